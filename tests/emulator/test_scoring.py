"""Submission scoring: each metric against hand-computed values, and each refusal with its row."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from kaggle_runner.emulator.scoring import ScoreError, metric_value, score


@pytest.mark.parametrize(
    "metric, y, p, expected",
    [
        ("auc", [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.75),
        ("auc", [0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.5),  # ties count half
        ("accuracy", [0, 1, 1, 0], [0, 1, 0, 0], 0.75),
        ("f1", [1, 1, 0, 0], [0.9, 0.2, 0.7, 0.1], 0.5),  # tp=1 fp=1 fn=1
        ("logloss", [1, 0], [0.8, 0.3], -(math.log(0.8) + math.log(0.7)) / 2),
        ("rmse", [1.0, 2.0, 3.0], [1.0, 2.0, 5.0], math.sqrt(4 / 3)),
        ("mae", [1.0, 2.0, 3.0], [2.0, 2.0, 5.0], 1.0),
    ],
)
def test_metrics(metric: str, y: list, p: list, expected: float) -> None:
    assert metric_value(metric, y, p) == pytest.approx(expected)


def _files(tmp_path: Path, submission: str) -> tuple[Path, Path]:
    sol = tmp_path / "solution.csv"
    sol.write_text("id,toxic,Usage\n001,1,Public\n002,0,Public\n003,1,Private\n004,0,Private\n")
    sub = tmp_path / "sub.csv"
    sub.write_text(submission)
    return sol, sub


def test_public_and_private_split(tmp_path: Path) -> None:
    sol, sub = _files(tmp_path, "id,toxic\n004,0.2\n003,0.1\n002,0.3\n001,0.9\n")  # any row order
    public, private = score(sol, sub, "auc", "id", ["toxic"])
    assert (public, private) == (1.0, 0.0)


@pytest.mark.parametrize(
    "submission, message",
    [
        ("id,target\n001,1\n", "header must be id,toxic"),
        ("id,toxic\n001,1\n002,0\n003,1\n", "missing 1 ids (first: '004')"),
        ("id,toxic\n001,1\n001,0\n003,1\n004,0\n", "row 3: duplicate id '001'"),
        ("id,toxic\n001,1\n002,0\n003,1\n4,0\n", "row 5: id '4' is not in the test set"),
        ("id,toxic\n001,1\n002,nan\n003,1\n004,0\n", "row 3, column toxic: 'nan' is not a finite number"),
        ("id,toxic\n001,1\n002,high\n003,1\n004,0\n", "row 3, column toxic: 'high' is not a number"),
        ("", "submission is empty"),
    ],
)
def test_refusals_name_the_problem(tmp_path: Path, submission: str, message: str) -> None:
    sol, sub = _files(tmp_path, submission)
    with pytest.raises(ScoreError) as e:
        score(sol, sub, "auc", "id", ["toxic"])
    assert message in str(e.value)
