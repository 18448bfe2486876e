"""The `kr` command line: one module per command group, each command parsing its arguments, calling one library
function of the same name and rendering the result. Heavy modules are imported inside commands (fast `kr --help`)."""

# isort: off  (each module registers its commands on import; `kr --help` lists them in this order)
from kaggle_runner.cli import datasets, emulator, review, runs, scoring  # noqa: F401

# isort: on
from kaggle_runner.cli.app import app, main

__all__ = ["app", "main"]
