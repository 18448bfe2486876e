"""The metric line format (shape 6) and that kr's log reader gets back exactly what was written."""

from __future__ import annotations

import io
import json

from kaggle_runner.ledger import metrics
from kaggle_runner.runtime import report


def test_line_round_trips_through_the_log_reader() -> None:
    out = io.StringIO()
    report.metric("validation", epoch=2, step=120, file=out, loss=0.31, auc=0.93, f1=float("nan"))
    line = out.getvalue()
    assert json.loads(line) == {
        "kr_metric": 1,
        "split": "validation",
        "epoch": 2,
        "step": 120,
        "metrics": {"loss": 0.31, "auc": 0.93, "f1": None},
    }
    points = metrics.extract("Epoch 3 starting\n" + line)
    assert [(p["name"], p["value"], p["split"], p["epoch"], p["step"], p["line"]) for p in points] == [
        ("loss", 0.31, "validation", 2, 120, 2),
        ("auc", 0.93, "validation", 2, 120, 2),
    ]  # NaN is skipped


def test_epoch_and_step_are_optional() -> None:
    assert json.loads(report.line("test", {"acc": 1})) == {"kr_metric": 1, "split": "test", "metrics": {"acc": 1.0}}
