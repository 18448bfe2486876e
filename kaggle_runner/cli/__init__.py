"""The `kr` command line: one module per command group, each command parsing its arguments, calling the library
(loop/, ledger/, team/) and rendering what it returns. Heavy modules are imported inside commands (fast --help)."""

# Each module registers its commands on import, and `kr --help` lists them in this order: the loop first.
# isort: off
from kaggle_runner.cli import runs, scoring, review, sweeps, team, datasets, models, emulator  # noqa: F401

# isort: on
from kaggle_runner.cli.app import app, main

__all__ = ["app", "main"]
