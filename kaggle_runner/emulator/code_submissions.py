"""Code competitions: CreateCodeSubmission re-runs a kernel version on the hidden test set, internet off, on
Kaggle's machines rather than the user's sessions, then scores the output file it names, as Kaggle does."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from kaggle_runner.emulator.competitions import Competitions
from kaggle_runner.emulator.executor import Session
from kaggle_runner.emulator.kernels import Kernels
from kaggle_runner.emulator.wire import ApiError, Body

# Kaggle's words for a re-run that produced nothing to score (shown on its submissions page)
THREW = "Notebook Threw Exception"
TIMEOUT = "Notebook Timeout"
NOT_FOUND = "Submission CSV Not Found"


class CodeSubmissions:
    def __init__(self, kernels: Kernels, competitions: Competitions):
        self.kernels, self.competitions, self.store = kernels, competitions, kernels.store

    def routes(self) -> dict[str, tuple[Any, bool]]:
        return {"competitions.CompetitionApiService/CreateCodeSubmission": (self.create, True)}

    def create(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        slug = body.str("competitionName")
        comp = self.competitions.definition(slug)
        if not comp.get("codeCompetition"):
            raise ApiError(400, f"{slug} is not a code competition; upload a file (CreateSubmission)")
        user = req.user["username"]
        kernel = self.kernels.find(body.str("kernelOwner"), body.str("kernelSlug"), req.user)
        if kernel["owner"] != user:
            raise ApiError(403, f"user {user} cannot submit {kernel['owner']}/{kernel['slug']}")
        number = body.int("kernelVersion", None)
        version = self.kernels.version(kernel, f"v{number}" if number else "")
        file_name = body.str("fileName") or "submission.csv"
        if version["status"] != "COMPLETE":
            raise ApiError(
                400, f"version {version['number']} of {kernel['slug']} is {version['status']}; submit a completed one"
            )
        if slug not in version["sources"]["competitionDataSources"]:
            raise ApiError(400, f"version {version['number']} of {kernel['slug']} lacks {slug} as a data source")
        with self.store.lock:
            self.competitions.check_limit(slug, comp, user)
            sub = self.competitions.new_submission(slug, user, file_name, body.str("submissionDescription"))
            rerun = copy.deepcopy(version)
            rerun["rerun"], rerun["internet"], rerun["status"] = True, False, "QUEUED"
            rerun["failureMessage"], rerun["sessionId"] = None, self.store.next_id("session", 700000)
            sub["rerun"] = rerun
            self.store.save()
        run = self.store.root / "submissions" / str(sub["ref"]) / "run"
        (run / "working").mkdir(parents=True)
        source = self.kernels.run_dir(kernel, version["number"]) / version["sourceFile"]
        (run / version["sourceFile"]).write_bytes(source.read_bytes())
        self.kernels.executor.submit(kernel, rerun, run, on_end=lambda s: self._scored(s, sub, comp, file_name))
        return {"message": f"Successfully submitted to {comp.get('title', slug)}", "ref": sub["ref"]}

    def _scored(self, s: Session, sub: dict[str, Any], comp: dict[str, Any], file_name: str) -> None:
        status = s.version["status"]
        if status != "COMPLETE":
            self.competitions.fail(sub, TIMEOUT if s.timed_out else THREW)
            return
        path: Path = s.run_dir / "working" / file_name
        if not path.is_file():
            self.competitions.fail(sub, NOT_FOUND)
            return
        with self.store.lock:
            sub["totalBytes"] = path.stat().st_size
        self.competitions.score_file(sub, comp, path)

    def recover(self) -> None:
        """A re-run that was live when the emulator stopped cannot be scored: its submission ends ERROR."""
        with self.store.lock:
            for sub in self.store.state["submissions"].values():
                if sub["status"] == "PENDING" and "rerun" in sub:
                    sub.update(status="ERROR", errorDescription="The emulator stopped while the notebook re-ran")
            self.store.save()
