"""write_submission: one file from the main process; mismatched or non-finite predictions are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kaggle_runner.runtime import write_submission
from kaggle_runner.runtime.proc import Proc


def test_writes_ids_as_given_and_one_column_per_target(tmp_path: Path) -> None:
    out = write_submission(
        tmp_path / "submission.csv",
        ["007", "010"],
        np.array([[0.25, 1.0], [0.5, 0.0]]),
        ["id", "toxic", "obscene"],
        proc=Proc("cpu"),
    )
    assert out == tmp_path / "submission.csv"
    assert out.read_text() == "id,toxic,obscene\n007,0.25,1\n010,0.5,0\n"


def test_other_processes_write_nothing(tmp_path: Path) -> None:
    assert write_submission(tmp_path / "s.csv", ["a"], np.array([0.1]), ["id", "y"], proc=Proc("cpu", 1, 2)) is None
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "ids,preds,columns,message",
    [
        (["a", "b"], np.array([0.1]), ["id", "y"], "2 ids but 1 predictions"),
        (["a"], np.array([0.1]), ["id", "y", "z"], "2 target columns named but predictions have 1"),
        (["a"], np.array([np.nan]), ["id", "y"], "NaN or infinity"),
    ],
)
def test_refuses_bad_predictions_before_writing(tmp_path: Path, ids, preds, columns, message) -> None:
    (tmp_path / "submission.csv").write_text("kept\n")
    with pytest.raises(ValueError, match=message):
        write_submission(tmp_path / "submission.csv", ids, preds, columns, proc=Proc("cpu"))
    assert (tmp_path / "submission.csv").read_text() == "kept\n"
