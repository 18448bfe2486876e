"""A local Kaggle: the subset of the Kaggle public API that `kr` and the official `kaggle` CLI use.
Start it with `kr emulator serve`, or in-process with `Emulator(state_dir).start()`."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # Lazy, so that `python -m kaggle_runner.emulator.sandbox` (the start of every kernel) loads no server code.
    if name == "Emulator":
        from kaggle_runner.emulator.server import Emulator

        return Emulator
    raise AttributeError(name)


__all__ = ["Emulator"]
