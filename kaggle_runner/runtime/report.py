"""kr's structured metric lines (shape 6 of docs/log-formats.md), the contract the ledger reads back exactly:
`{"kr_metric": 1, "split": "validation", "epoch": 1, "step": 120, "metrics": {"loss": 0.31, "auc": 0.93}}`."""

from __future__ import annotations

import json
import math
import sys
from typing import Any, TextIO

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
