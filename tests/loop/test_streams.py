"""Following many runs at once: an end seen on a run's log stream within a second and confirmed by one status call,
a dropped stream reopened without repeating what was seen, and a stream that keeps failing given up for polling."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kaggle_runner.kaggle.api import KaggleError
from kaggle_runner.ledger.db import Run
from kaggle_runner.loop import streams

STEP = "Train Step 25, loss: %s"


def _run(rid: int) -> Run:
    return Run(rid, "main", "testuser/main", rid, "pushed", "RUNNING", "gpu", None, None, None, False, {}, {}, None,
               0.0, None, None)  # fmt: skip


class FakeKaggle:
    """Log streams scripted per run: each open takes the next script, a list of lines then 'END' or 'DROP'; 'WAIT'
    waits for `release`, 'HOLD' for `hold` (a stream that stays open through the test)."""

    def __init__(self, scripts: dict[int, list[list[str]]]):
        self.scripts, self.opened = scripts, {k: 0 for k in scripts}
        self.release, self.hold = threading.Event(), threading.Event()

    def log_stream(self, owner: str, slug: str, version: int) -> Iterator[dict[str, Any]]:
        script = self.scripts[version][min(self.opened[version], len(self.scripts[version]) - 1)]
        self.opened[version] += 1
        for item in script:
            if item == "WAIT":
                self.release.wait(10)
            elif item == "HOLD":
                self.hold.wait(10)
            elif item == "DROP":
                raise KaggleError("the log stream broke (ChunkedEncodingError)")
            elif item != "END":
                yield {"stream_name": "stdout", "data": item + "\n"}


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams, "RECONNECT_SECONDS", 0.01)


def test_an_end_on_the_stream_is_seen_at_once_and_confirmed_by_one_status_call() -> None:
    api = FakeKaggle(
        {
            1: [["[RESULT]: Validation. Epoch: 0, loss: 0.66871, final_score: 0.91", "WAIT", "END"]],
            2: [["HOLD"]],
        }
    )
    asked: list[int] = []
    final = {1: False}

    def status(r: Run) -> str:
        asked.append(r.id)
        return "COMPLETE" if final.get(r.id) else "RUNNING"

    watch = streams.Watch(api, status, start=60.0)  # polls 60 s apart: only the stream can explain a quick end
    runs = [_run(1), _run(2)]
    assert watch.poll(runs, 0.0) == {1: "RUNNING", 2: "RUNNING"}  # the first look, then their streams open
    deadline = time.time() + 5
    while watch.metric(runs[0]) is None and time.time() < deadline:
        time.sleep(0.01)
    assert watch.metric(runs[0]) == "validation.final_score 0.91"
    final[1] = True
    api.release.set()  # run 1's session ends: its stream says END_OF_LOG
    started = time.time()
    seen = watch.poll(runs, 5.0)
    assert seen.get(1) == "COMPLETE" and time.time() - started < 1.0
    assert asked.count(1) == 2 and asked.count(2) == 1  # run 2 holds its stream: not polled
    api.hold.set()


def test_a_dropped_stream_is_reopened_without_repeating_lines() -> None:
    api = FakeKaggle({1: [[STEP % 0.5, "DROP"], [STEP % 0.5, STEP % 0.4, "WAIT", "END"]]})
    watch = streams.Watch(api, lambda r: "RUNNING", start=60.0)
    noted: list[str] = []
    note = watch._note
    watch._note = lambda rid, data, tail, at=None: (noted.append(data.strip()), note(rid, data, tail, at))  # type: ignore[method-assign]
    watch.poll([_run(1)], 0.0)
    deadline = time.time() + 5
    while watch.metric(_run(1)) != "train.loss 0.4" and time.time() < deadline:
        time.sleep(0.01)
    assert watch.metric(_run(1)) == "train.loss 0.4" and api.opened[1] == 2
    assert noted == [STEP % 0.5, STEP % 0.4]  # the reopened stream replayed its first line: not taken twice
    api.release.set()


def test_a_stream_that_keeps_breaking_is_given_up_for_polling() -> None:
    api = FakeKaggle({1: [["DROP"]]})
    calls: list[float] = []
    watch = streams.Watch(api, lambda r: calls.append(time.time()) or "RUNNING", start=0.05)
    for _ in range(40):
        watch.poll([_run(1)], 0.05)
    assert 1 in watch.broken and api.opened[1] == streams.STREAM_FAILURES
    assert len(calls) >= 5  # polled on its own schedule once the stream was given up


def test_the_elapsed_time_is_the_sessions_own_from_its_live_log() -> None:
    """`kr wait` started late shows how long the session has run, not how long kr has waited."""
    watch = streams.Watch(None, lambda r: "RUNNING")
    run = _run(1)
    assert watch.elapsed(run) is None  # no event yet: a queued session
    watch._note(run.id, "epoch 3\n", [], 3600.0)
    assert 3600.0 <= watch.elapsed(run) < 3601.0
