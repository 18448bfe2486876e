"""The team's side: the one door to a team's MLflow server, `kr sync`, the team's view of everyone's runs, and
the tag schema both sides use."""
