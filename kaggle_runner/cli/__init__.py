"""The `kr` command line: one module per command group, each command parsing its arguments, calling one library
function of the same name and rendering the result. Heavy modules are imported inside commands (fast `kr --help`)."""

# Each module registers its commands on import, and `kr --help` lists them in this order: the loop first.
# isort: off
from kaggle_runner.cli import runs, scoring, review, sweeps, team, datasets, emulator  # noqa: F401

# isort: on
from kaggle_runner.cli.app import app, main

__all__ = ["app", "main"]
