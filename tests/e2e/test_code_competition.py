"""End to end on a code competition (the emulator's tiny-toxic-code): `kr submit v1` sends the kernel version,
Kaggle's re-run on the hidden test set is scored, and the ledger shows the score; a file is refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import write_project

pytestmark = pytest.mark.slow

KERNEL = """import csv, os
test = os.path.join(os.environ.get("KAGGLE_INPUT_DIR", "/kaggle/input"), "competitions", "tiny-toxic-code", "test.csv")
rows = list(csv.DictReader(open(test)))
print("predicting", len(rows), "rows")
with open("submission.csv", "w") as f:
    f.write("id,toxic\\n" + "".join(r["id"] + "," + str(0.9 if "idiot" in r["comment_text"] else 0.1) + "\\n"
                                     for r in rows))
"""


@pytest.fixture
def kr(emulator, tmp_path: Path, make_kr):
    project = write_project(
        tmp_path / "proj",
        kernels={"main": {"folder": "kernels/main", "entry": "main.py", "title": "Code Comp Kernel"}},
        files={"kernels/main/main.py": KERNEL},
        competition="tiny-toxic-code",
    )
    return make_kr(project, emulator)


def test_submit_sends_the_version_and_records_the_re_run_score(kr, emulator) -> None:
    kr("push", "--wait")
    assert "predicting 3 rows" in kr("logs", "v1").stdout  # the public sample of the test set
    sent = json.loads(kr("submit", "v1", "-m", "first", "--wait", "--json").stdout)
    assert sent["status"] == "COMPLETE" and float(sent["public_score"]) > 0.5
    sub = emulator.store.state["submissions"][str(sent["ref"])]
    assert sub["description"] == "v1 first [kr main/v1]" and sub["fileName"] == "submission.csv"
    rows = json.loads(kr("ls", "--json").stdout)
    assert rows[0]["public"] == float(sub["publicScore"])


def test_a_file_or_a_missing_output_is_refused_before_a_daily_submission_is_spent(kr, emulator) -> None:
    kr("push", "--wait")
    r = kr("submit", str(kr.project / ".kr" / "runs" / "v1" / "submission.csv"), check=2)
    assert "tiny-toxic-code is a code competition" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = kr("submit", "v1", "--file", "preds.csv", check=2)
    assert "v1 has no preds.csv" in r.stderr
    assert emulator.store.state["submissions"] == {}
