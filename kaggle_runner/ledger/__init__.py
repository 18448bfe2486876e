"""The ledger: the SQLite record of runs, merges, metrics and scores, the version-address grammar, and what
`kr ls` / `show` / `compare` / `plot` say from it. Works offline."""
