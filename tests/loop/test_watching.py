"""Watching a run with no server: a log stream that drops mid-way is not repeated, and a final state of the
previous version right after a push reads as QUEUED."""

from __future__ import annotations

from pathlib import Path

from kaggle_runner.kaggle.api import KaggleError


def test_follow_does_not_repeat_events_after_a_mid_stream_drop() -> None:
    from kaggle_runner.loop.watching import follow
    from kaggle_runner.project import Session

    class FlakyApi:
        calls = 0

        def log_stream(self, owner: str, slug: str, version: int):
            FlakyApi.calls += 1
            events = [{"data": f"e{i}\n"} for i in range(4)]
            if FlakyApi.calls == 1:
                yield from events[:2]
                raise KaggleError("the log stream broke (ChunkedEncodingError)")  # as KaggleApi.log_stream says
            yield from events  # the server replays the log from the start after a reconnect

    class FakeRun:
        owner_slug, version, number = ("testuser", "k"), 1, 1

    ctx = Session(cfg=None, api=FlakyApi(), ledger=None, owner="testuser")
    assert [e["data"] for e in follow(ctx, FakeRun())] == ["e0\n", "e1\n", "e2\n", "e3\n"]
    assert FlakyApi.calls == 2


def test_a_final_state_of_the_previous_version_right_after_a_push_reads_as_queued(tmp_path: Path) -> None:
    """Kaggle can answer GetKernelSessionStatus for v7 with v6's COMPLETE until it knows v7 (PR #1177)."""
    from kaggle_runner.ledger.db import Ledger
    from kaggle_runner.loop.watching import status
    from kaggle_runner.project import Session

    class LaggingApi:
        current = 6  # GetKernel's currentVersionNumber: the push of v7 is not known yet

        def kernel_status(self, owner: str, slug: str, version: int):
            return "COMPLETE", None  # the previous version's final state

        def current_version(self, ref: str) -> int:
            return LaggingApi.current

    ledger = Ledger(tmp_path / "ledger.sqlite")
    run_id = ledger.begin_push("main", "testuser/k", "cpu", "Cpu", "", None, False, {}, {})
    ledger.finish_push(run_id, 7)
    run = ledger.resolve("v7", "main")
    ctx = Session(cfg=None, api=LaggingApi(), ledger=ledger, owner="testuser")
    assert status(ctx, run) == ("QUEUED", None)
    assert ledger.resolve("v7", "main").status == "QUEUED"  # nothing final recorded
    LaggingApi.current = 7
    assert status(ctx, run) == ("COMPLETE", None)
