"""Code competitions on the emulator: a kernel version re-run on the hidden test set with internet off and scored
from the file it names; a CSV upload refused; every way a re-run can fail ends ERROR with Kaggle's words."""

from __future__ import annotations

import json
import time

import pytest

from helpers import Api

COMP = "tiny-toxic-code"
PREDICT = """import csv, os
test = "/kaggle/input/competitions/tiny-toxic-code/test.csv"
rows = list(csv.DictReader(open(test)))
print("rows", len(rows), "rerun", bool(os.environ.get("KAGGLE_IS_COMPETITION_RERUN")), flush=True)
with open("submission.csv", "w") as f:
    f.write("id,toxic\\n" + "".join(r["id"] + "," + str(int("idiot" in r["comment_text"])) + "\\n" for r in rows))
"""


def code_submit(api: Api, slug: str, version: int = 1, **fields) -> dict:
    body = {
        "competitionName": COMP,
        "kernelOwner": "testuser",
        "kernelSlug": slug,
        "kernelVersion": version,
        "fileName": "submission.csv",
        "submissionDescription": "from a notebook",
        **fields,
    }
    return api.ok("competitions.CreateCodeSubmission", body)


def scored(api: Api, ref: int, timeout: float = 60) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        sub = api.ok("competitions.GetSubmission", {"ref": ref})
        if sub["status"] != "PENDING":
            return sub
        time.sleep(0.1)
    raise AssertionError(f"submission {ref} still PENDING")


def test_a_version_is_re_run_on_the_hidden_test_set_and_scored(api: Api, emulator) -> None:
    api.push("predictor", PREDICT, competitionDataSources=[COMP])
    assert api.wait("predictor")["status"] == "COMPLETE"
    log = api.ok("kernels.ListKernelSessionOutput", {"userName": "testuser", "kernelSlug": "predictor"})["log"]
    assert "rows 3 rerun False" in log  # the version's own run sees the public sample of the test set

    resp = code_submit(api, "predictor")
    sub = scored(api, resp["ref"])
    assert sub["status"] == "COMPLETE", sub
    assert 0.5 < float(sub["publicScore"]) <= 1  # every one of the 200 hidden ids was predicted, and well
    assert sub["fileName"] == "submission.csv" and sub["description"] == "from a notebook"
    rerun = emulator.store.state["submissions"][str(resp["ref"])]["rerun"]
    assert rerun["internet"] is False
    hidden = emulator.store.root / "submissions" / str(resp["ref"]) / "run" / "log.json"
    assert "rows 200 rerun True" in "".join(e["data"] for e in json.loads(hidden.read_text()))
    # the re-run is not a version of the kernel, and its outputs are not the user's to list
    assert len(emulator.store.state["kernels"]["testuser/predictor"]["versions"]) == 1


def test_a_csv_upload_to_a_code_competition_is_refused(api: Api) -> None:
    token = api.ok(
        "competitions.StartSubmissionUpload", {"competitionName": COMP, "fileName": "s.csv", "contentLength": 3}
    )["token"]
    r = api.call("competitions.CreateSubmission", {"competitionName": COMP, "blobFileTokens": [token]})
    assert r.status_code == 400 and "code competition" in r.json()["message"]
    r = api.call(
        "competitions.CreateCodeSubmission",
        {"competitionName": "tiny-toxic", "kernelOwner": "testuser", "kernelSlug": "x", "kernelVersion": 1},
    )
    assert r.status_code == 400 and "not a code competition" in r.json()["message"]


@pytest.mark.parametrize(
    "source, file_name, error",
    [
        (
            PREDICT + "import os\nif os.environ.get('KAGGLE_IS_COMPETITION_RERUN'):\n    raise MemoryError\n",
            None,
            "Notebook Threw Exception",
        ),
        (PREDICT, "preds.csv", "Submission CSV Not Found"),
        (PREDICT.replace('"id,toxic', '"row,toxic'), None, "id"),  # scored, and the scorer's message comes back
    ],
)
def test_a_re_run_that_cannot_be_scored_ends_error(api: Api, source: str, file_name: str | None, error: str) -> None:
    api.push("fragile", source, competitionDataSources=[COMP])
    assert api.wait("fragile")["status"] == "COMPLETE"
    sub = scored(api, code_submit(api, "fragile", **({"fileName": file_name} if file_name else {}))["ref"])
    assert sub["status"] == "ERROR" and error in sub["errorDescription"]


def test_only_a_completed_version_with_the_competition_attached_can_be_submitted(api: Api) -> None:
    api.push("broken", "raise SystemExit(1)", competitionDataSources=[COMP])
    api.wait("broken")
    r = api.call(
        "competitions.CreateCodeSubmission",
        {"competitionName": COMP, "kernelOwner": "testuser", "kernelSlug": "broken", "kernelVersion": 1},
    )
    assert r.status_code == 400 and "ERROR" in r.json()["message"]
    api.push("detached", PREDICT.replace("tiny-toxic-code", "tiny-toxic"), competitionDataSources=["tiny-toxic"])
    api.wait("detached")
    r = api.call(
        "competitions.CreateCodeSubmission",
        {"competitionName": COMP, "kernelOwner": "testuser", "kernelSlug": "detached", "kernelVersion": 1},
    )
    assert r.status_code == 400 and "lacks tiny-toxic-code as a data source" in r.json()["message"]
