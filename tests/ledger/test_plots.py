"""kr plot's drawings, read back from their axes: every curve seen even when two are equal, a sweep's params in its
legend, whole epochs, scores as points with the best marked, and the best few of a sweep named, not all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kaggle_runner.ledger import plots


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The axes each plot finishes with, kept open for the test."""
    seen: dict[str, Any] = {}
    finish = plots._finish

    def keep(plt: Any, fig: Any, ax: Any, *args: Any, **kwargs: Any) -> None:
        finish(plt, fig, ax, *args, **kwargs)  # it adds the legend, writes the PNG and closes the figure
        seen["ax"] = ax
        seen["legend"] = [t.get_text() for t in (ax.get_legend().get_texts() if ax.get_legend() else [])]
        seen["lines"] = [(list(line.get_xdata()), line.get_linestyle(), line.get_marker()) for line in ax.get_lines()]
        seen["ticks"] = list(ax.get_xticks())
        seen["texts"] = [t.get_text() for t in ax.texts]

    monkeypatch.setattr(plots, "_finish", keep)
    return seen


def _points(values: list[float], split: str = "validation", name: str = "auc") -> list[dict[str, Any]]:
    return [{"name": name, "split": split, "epoch": e, "value": v} for e, v in enumerate(values)]


def test_equal_curves_are_all_seen_and_say_which_they_equal(drawn: dict[str, Any], tmp_path: Path) -> None:
    """A 6-run sweep whose seed changes nothing drew 3 lines: each hid its twin."""
    curve = [0.8, 0.85, 0.9]
    runs = [("v1 lr=1e-05 seed=0", _points(curve)), ("v2 lr=1e-05 seed=1", _points(curve))]
    plots.curves(runs, "validation.auc", tmp_path / "c.png")
    (xs1, _, m1), (xs2, _, m2) = drawn["lines"]
    assert xs1 != xs2 and m1 != m2  # beside it, and marked otherwise
    assert drawn["legend"] == ["v1 lr=1e-05 seed=0", "v2 lr=1e-05 seed=1 (= v1)"]
    assert drawn["ax"].get_title() == "validation.auc of v1, v2"
    assert all(float(t).is_integer() for t in drawn["ticks"])  # epochs are whole


def test_a_name_draws_every_split_of_it_and_says_so(drawn: dict[str, Any], tmp_path: Path) -> None:
    """`--metric loss` drew train.loss only."""
    points = _points([0.5, 0.4], "train", "loss") + _points([0.6, 0.55], "validation", "loss")
    assert plots.curves([("v1", points)], "loss", tmp_path / "l.png") == 2
    assert drawn["ax"].get_title() == "train.loss and validation.loss of v1"
    assert {style for _, style, _ in drawn["lines"]} == {"-", "--"}


def test_scores_are_points_with_private_scores_and_the_best_marked(drawn: dict[str, Any], tmp_path: Path) -> None:
    from kaggle_runner.ledger.reports import Row

    rows = [
        Row(id="v1", kind="run", status="COMPLETE", message="", created=1.0, public=0.91, private=0.90),
        Row(id="v2", kind="run", status="COMPLETE", message="", created=2.0, public=0.93),
        Row(id="m1", kind="merge", status="MERGED", message="", created=3.0, public=0.92),
    ]
    plots.scores(rows, tmp_path / "s.png")
    assert drawn["lines"] == []  # no trend line across categorical labels
    assert drawn["texts"] == ["v2 0.93"] and "runs (private)" in drawn["legend"] and "best" in drawn["legend"]


def test_by_param_names_the_best_few_not_every_point(drawn: dict[str, Any], tmp_path: Path) -> None:
    """183 point labels overlapped into a smear."""
    points = [(1e-6 * (i + 1), 0.5 + i / 1000, f"v{i + 1}") for i in range(183)]
    plots.by_param(points, "lr", "validation.auc", tmp_path / "b.png")
    assert sorted(drawn["texts"]) == sorted(f"v{i}" for i in range(179, 184))
    assert drawn["ax"].get_title() == "validation.auc against lr: 183 runs, the 5 highest named"
