"""The checks `kr submit` runs before spending a daily submission: a file Kaggle would refuse or score wrongly is
refused with one line naming it and the line, and nothing is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaggle_runner.ensembles.table import CsvError
from kaggle_runner.loop.submissions import check

SAMPLE = "id,toxic\n000001,0.5\n000002,0.5\n000003,0.5\n"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    p = tmp_path / "sample_submission.csv"
    p.write_text(SAMPLE)
    return p


def _file(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "submission.csv"
    p.write_text(text)
    return p


def test_a_file_with_the_samples_ids_in_any_order_passes(tmp_path: Path, sample: Path) -> None:
    assert check(_file(tmp_path, "id,toxic\n000003,0.1\n000001,0.9\n000002,0.4\n"), sample) == 3


def test_without_a_sample_only_the_file_itself_is_checked(tmp_path: Path) -> None:
    assert check(_file(tmp_path, "id,label\n1,cat\n2,dog\n"), None) == 2
    with pytest.raises(CsvError, match="line 3: id '1' repeats line 2"):
        check(_file(tmp_path, "id,label\n1,cat\n1,dog\n"), None)


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "key,toxic\n000001,0\n000002,0\n000003,0\n",
            "line 1: the first column is 'key'; the sample submission's is 'id'",
        ),
        ("id,severe\n000001,0\n000002,0\n000003,0\n", "line 1: lacks column 'toxic'"),
        ("id,toxic\n000001,0\n000002,0\n", "has no row for id '000003'"),
        ("id,toxic\n000001,0\n000002,0\n000003,0\n000004,0\n", "line 5: id '000004' is not in sample_submission.csv"),
        ("id,toxic\n000001,0\n000002,0\n000002,0\n", "line 4: id '000002' repeats line 3"),
        ("id,toxic\n000001,0\n000002,\n000003,0\n", "line 3: column 'toxic' is blank or NaN"),
        ("id,toxic\n000001,0\n000002,NaN\n000003,0\n", "line 3: column 'toxic' is blank or NaN"),
        ("id,toxic\n1,0\n2,0\n3,0\n", "line 2: id '1' is not in sample_submission.csv"),
    ],
)
def test_a_file_kaggle_would_refuse_is_refused_with_its_line(
    tmp_path: Path, sample: Path, text: str, message: str
) -> None:
    with pytest.raises(CsvError) as e:
        check(_file(tmp_path, text), sample)
    assert message in str(e.value) and str(e.value).startswith(str(tmp_path / "submission.csv"))
    assert "\n" not in str(e.value)
