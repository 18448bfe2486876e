"""Competition submissions on the emulator: asynchronous scoring, errors, listing and the daily limit."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from helpers import Api, creds
from kaggle_runner.emulator import Emulator
from kaggle_runner.emulator.seed import init_state


def _submit(api: Api, name: str, data: bytes, message: str = "m") -> int:
    start = api.ok(
        "competitions.StartSubmissionUpload",
        {"competitionName": "tiny-toxic", "fileName": name, "contentLength": len(data)},
    )
    assert requests.put(start["createUrl"], data=data, timeout=10).status_code == 200
    r = api.ok(
        "competitions.CreateSubmission",
        {"competitionName": "tiny-toxic", "blobFileTokens": start["token"], "submissionDescription": message},
    )
    return r["ref"]


def _wait(api: Api, ref: int) -> dict:
    deadline = time.monotonic() + 30  # generous: CI's two cores also run the other worker's kernels
    while time.monotonic() < deadline:
        sub = api.ok("competitions.GetSubmission", {"ref": ref})
        if sub.get("status", "PENDING") != "PENDING":
            return sub
        time.sleep(0.05)
    raise AssertionError("never scored")


def test_submission_is_scored_asynchronously(api: Api, emulator) -> None:
    solution = (emulator.store.root / "competitions/tiny-toxic/solution.csv").read_text().splitlines()[1:]
    perfect = "id,toxic\n" + "".join(f"{line.split(',')[0]},{line.split(',')[1]}\n" for line in solution)
    ref = _submit(api, "perfect.csv", perfect.encode(), "oracle")
    sub = _wait(api, ref)
    assert sub["status"] == "COMPLETE" and sub["publicScore"] == "1.00000" and sub["privateScore"] == "1.00000"
    listed = api.ok("competitions.ListSubmissions", {"competitionName": "tiny-toxic"})["submissions"]
    assert [(s["ref"], s["description"], s["fileName"]) for s in listed] == [(ref, "oracle", "perfect.csv")]


def test_bad_submission_ends_in_error_with_description(api: Api) -> None:
    ref = _submit(api, "bad.csv", b"id,toxic\n000400,0.5\n000400,0.5\n")
    sub = _wait(api, ref)
    assert sub["status"] == "ERROR" and "duplicate id '000400'" in sub["errorDescription"]


def test_daily_limit_is_enforced(emulator) -> None:
    comp = emulator.store.root / "competitions/tiny-toxic/competition.json"
    definition = json.loads(comp.read_text())
    definition["dailyLimit"] = 2
    comp.write_text(json.dumps(definition))
    c = creds(emulator)
    api = Api(emulator.url, c["username"], c["key"])
    sample = (emulator.store.root / "competitions/tiny-toxic/data/sample_submission.csv").read_bytes()
    _submit(api, "a.csv", sample)
    _submit(api, "b.csv", sample)
    limits = api.ok("competitions.GetSubmissionLimits", {"competitionName": "tiny-toxic"})
    assert limits == {"numToday": 2, "numTotal": 2, "numAllowedNow": 0}
    start = api.ok(
        "competitions.StartSubmissionUpload",
        {"competitionName": "tiny-toxic", "fileName": "c.csv", "contentLength": len(sample)},
    )
    requests.put(start["createUrl"], data=sample, timeout=10)
    r = api.call("competitions.CreateSubmission", {"competitionName": "tiny-toxic", "blobFileTokens": start["token"]})
    assert r.status_code == 400 and "daily submission limit" in r.json()["message"]


def test_unknown_competition_is_404(api: Api) -> None:
    r = api.call(
        "competitions.StartSubmissionUpload", {"competitionName": "nope", "fileName": "a.csv", "contentLength": 1}
    )
    assert r.status_code == 404


def test_no_scoring_failure_leaves_a_submission_pending(api: Api, emulator, monkeypatch) -> None:
    comp = emulator.store.root / "competitions/tiny-toxic"
    solution = (comp / "solution.csv").read_text()
    ids = [line.split(",")[0] for line in solution.splitlines()[1:]]
    sub = ("id,toxic\n" + "".join(f"{i},0.5\n" for i in ids)).encode()
    (comp / "solution.csv").write_text(solution.replace("id,", "qid,", 1))  # not the configured id column
    ref = _submit(api, "a.csv", sub)
    done = _wait(api, ref)
    assert done["status"] == "ERROR" and "solution file has no column 'id'" in done["errorDescription"]

    from kaggle_runner.emulator import competitions

    def broken(*args, **kwargs):
        raise KeyError("something the scorer never expected")

    monkeypatch.setattr(competitions, "score", broken)
    done = _wait(api, _submit(api, "b.csv", sub))
    assert done["status"] == "ERROR" and "could not score it (KeyError" in done["errorDescription"]


class TestTeams:
    """testuser and alice in one team ("Toxic Twins") of tiny-toxic, and bob on his own."""

    @pytest.fixture
    def emulator(self, make_emulator, tmp_path: Path) -> Emulator:
        state = tmp_path / "state"
        init_state(state, {"scoring_seconds": 0.05})
        cfg = json.loads((state / "config.json").read_text())
        cfg["users"] += [
            {"username": "alice", "key": "1" * 32, "id": 2, "tokens": []},
            {"username": "bob", "key": "2" * 32, "id": 3, "tokens": []},
        ]
        (state / "config.json").write_text(json.dumps(cfg))
        comp = state / "competitions/tiny-toxic/competition.json"
        definition = {**json.loads(comp.read_text()), "dailyLimit": 3, "teams": {"Toxic Twins": ["testuser", "alice"]}}
        comp.write_text(json.dumps(definition))
        return make_emulator(state)

    def test_members_see_each_others_submissions_and_files_and_share_the_daily_limit(self, api: Api, emulator) -> None:
        alice, bob = Api(emulator.url, "alice", "1" * 32), Api(emulator.url, "bob", "2" * 32)
        sample = (emulator.store.root / "competitions/tiny-toxic/data/sample_submission.csv").read_bytes()
        mine, hers = _submit(api, "mine.csv", sample), _submit(alice, "hers.csv", sample)
        his = _submit(bob, "his.csv", sample)
        listed = api.ok("competitions.ListSubmissions", {"competitionName": "tiny-toxic"})["submissions"]
        assert sorted((s["ref"], s["submittedBy"], s["teamName"]) for s in listed) == [
            (mine, "testuser", "Toxic Twins"),
            (hers, "alice", "Toxic Twins"),
        ]
        assert _wait(api, hers)["submittedBy"] == "alice"  # GetSubmission of a teammate's
        r = api.call("competitions.DownloadSubmission", {"submissionId": hers})  # followed to the file, as kagglesdk
        assert r.status_code == 200 and r.content == sample and r.url.endswith("/hers.csv")
        assert bob.call("competitions.DownloadSubmission", {"submissionId": hers}).status_code == 404
        assert bob.call("competitions.GetSubmission", {"ref": hers}).status_code == 404
        limits = alice.ok("competitions.GetSubmissionLimits", {"competitionName": "tiny-toxic"})
        assert limits == {"numToday": 2, "numTotal": 2, "numAllowedNow": 1}  # the team's two
        _wait(bob, his)  # the board shows scored submissions only, and a busy machine scores late
        board = api.ok("competitions.GetLeaderboard", {"competitionName": "tiny-toxic"})["submissions"]
        assert sorted(b["teamName"] for b in board) == ["Toxic Twins", "bob"]

    def test_the_official_cli_downloads_a_teammates_submission(self, emulator, kaggle, tmp_path: Path) -> None:
        sample = (emulator.store.root / "competitions/tiny-toxic/data/sample_submission.csv").read_bytes()
        hers = _submit(Api(emulator.url, "alice", "1" * 32), "hers.csv", sample)
        kaggle("competitions", "submission-download", str(hers), "-p", str(tmp_path / "got"))
        assert (tmp_path / "got" / "hers.csv").read_bytes() == sample
