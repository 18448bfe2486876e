"""The one door to Kaggle: the API client, its pacing, Kaggle's rules, the log format and the accelerators.
Imports nothing of kr above it; the emulator and the runtime share its rules."""
