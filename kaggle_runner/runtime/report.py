"""kr's metric lines (shape 6 of docs/log-formats.md: `{"kr_metric": 1, "split": "validation", "epoch": 1, ...}`),
which the ledger reads back exactly, and kr_progress.json, how far a run got, for a session killed at its time cap."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Any, TextIO

from kaggle_runner.kaggle.in_kernel import PROGRESS

VERSION = 1


def line(split: str, metrics: dict[str, float], epoch: int | None = None, step: int | None = None) -> str:
    """One metric line. Values that are not finite become null: strict JSON, and the ledger skips them."""
    values: dict[str, Any] = {}
    for name, value in metrics.items():
        value = float(value)
        values[str(name)] = value if math.isfinite(value) else None
    obj: dict[str, Any] = {"kr_metric": VERSION, "split": split}
    if epoch is not None:
        obj["epoch"] = int(epoch)
    if step is not None:
        obj["step"] = int(step)
    obj["metrics"] = values
    return json.dumps(obj, allow_nan=False)


def metric(
    split: str, epoch: int | None = None, step: int | None = None, file: TextIO | None = None, **metrics: float
) -> None:
    """Print one metric line, flushed at once so `kr logs --follow` sees it while the kernel runs. One write
    call, so another process printing at the same moment cannot split the line (stdout is often unbuffered)."""
    out = file or sys.stdout
    out.write(line(split, metrics, epoch, step) + "\n")
    out.flush()


def progress(
    epoch: int,
    epochs: int | None,
    step: int,
    metrics: dict[str, dict[str, float]],
    checkpoint: str | None = None,
    best_epoch: int | None = None,
    folder: str = ".",
) -> None:
    """Replace kr_progress.json: `epoch` (0-based, as in the metric lines) is done, of `epochs`, at optimizer step
    `step`, with the last values of each split and the checkpoint saved so far. Written beside and renamed over the
    old one, so a session killed mid-write leaves the previous file whole."""
    values = {split: json.loads(line(split, m))["metrics"] for split, m in metrics.items()}
    state = {
        "kr_progress": VERSION,
        "epoch": int(epoch),
        "epochs": epochs,
        "step": int(step),
        "metrics": values,
        "checkpoint": checkpoint,
        "best_epoch": best_epoch,
        "time": round(time.time(), 3),
    }
    target = os.path.join(folder, PROGRESS)
    with open(target + ".tmp", "w", encoding="utf-8") as f:
        json.dump(state, f, allow_nan=False)
    os.replace(target + ".tmp", target)
