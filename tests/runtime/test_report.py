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


def test_the_progress_file_reads_back_as_the_last_points(tmp_path) -> None:
    """kr_progress.json, replaced after each epoch, is what `kr pull` reads when a killed session's log is empty."""
    report.progress(0, 3, 10, {"train": {"loss": 0.5}}, folder=str(tmp_path))
    report.progress(1, 3, 20, {"train": {"loss": 0.4}, "validation": {"auc": 0.9, "f1": float("nan")}}, "best.pt", 1,
                    folder=str(tmp_path))  # fmt: skip
    read = metrics.read_progress(tmp_path / "kr_progress.json")
    assert read is not None and (read["epoch"], read["step"], read["checkpoint"]) == (1, 20, "best.pt")
    points = metrics.from_progress(read)
    assert [(p["name"], p["value"], p["split"], p["epoch"], p["step"]) for p in points] == [
        ("loss", 0.4, "train", 1, 20),
        ("auc", 0.9, "validation", 1, 20),
    ]  # NaN is skipped, as in the log


def test_a_progress_file_that_is_not_one_is_ignored(tmp_path) -> None:
    for text in ("not json", "[1]", '{"kr_progress": 1, "epoch": "3", "step": 1}', '{"epoch": 1, "step": 1}'):
        (tmp_path / "p.json").write_text(text)
        assert metrics.read_progress(tmp_path / "p.json") is None
    (tmp_path / "p.json").write_text('{"kr_progress": 1, "epoch": 1, "step": 2, "metrics": {"v": {"a": "x", "b": 1}}}')
    assert metrics.read_progress(tmp_path / "p.json")["metrics"] == {"v": {"b": 1}}
