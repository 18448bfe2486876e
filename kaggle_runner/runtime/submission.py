"""One submission.csv from the gathered predictions, written once by the main process, in the test set's order.
Ids and predictions must line up one to one; anything else is refused before a byte is written."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kaggle_runner.runtime.devices import current
from kaggle_runner.runtime.proc import Proc


def write_submission(
    path: str | os.PathLike[str],
    ids: Sequence[object],
    predictions: np.ndarray,
    columns: Sequence[str],
    proc: Proc | None = None,
    digits: int = 6,
) -> Path | None:
    """Write `columns` (id first, then one per prediction column); returns the path on the main process."""
    proc = proc or current()
    preds = np.asarray(predictions)
    preds = preds.reshape(len(preds), -1)
    if len(preds) != len(ids):
        raise ValueError(f"write_submission: {len(ids)} ids but {len(preds)} predictions")
    if preds.shape[1] != len(columns) - 1:
        raise ValueError(
            f"write_submission: {len(columns) - 1} target columns named but predictions have {preds.shape[1]}"
        )
    if not np.isfinite(preds).all():
        raise ValueError("write_submission: predictions hold NaN or infinity")
    if not proc.is_main:
        return None
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for i, row in zip(ids, preds):
            w.writerow([i, *(f"{v:.{digits}g}" if preds.dtype.kind == "f" else v for v in row)])
    tmp.replace(path)  # a crash mid-write never leaves a half submission.csv behind
    return path
