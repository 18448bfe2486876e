"""A local Kaggle: the subset of the Kaggle public API that `kr` and the official `kaggle` CLI use.
Start it with `kr emulator serve`, or in-process with `Emulator(state_dir).start()`."""

from kaggle_runner.emulator.server import Emulator

__all__ = ["Emulator"]
