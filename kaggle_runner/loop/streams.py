"""Many runs followed at once: a thread per run reads its live log stream (the last metric line, and END_OF_LOG when
the session ends), so an end is seen in seconds with one request; runs without a working stream are polled."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from kaggle_runner.kaggle.api import KaggleError
from kaggle_runner.kaggle.pacing import poll_intervals
from kaggle_runner.kaggle.rules import FINAL_STATES
from kaggle_runner.ledger.db import Run

STREAM_FAILURES = 3  # a stream that breaks (or ends at once) this many times in a row is given up for polling
QUICK_END_SECONDS = 5.0
CONTEXT_LINES = 20
RECONNECT_SECONDS = 2.0  # the first wait before reopening a broken stream; doubles each time, to 30 s


class Watch:
    """The state of many runs: learnt from their streams where they hold, by polling (with the usual backoff) where
    they do not. A stream that ends is only a hint (a queued session's stream may end at once): the run's status
    is asked once to confirm it."""

    def __init__(self, api: Any, status: Callable[[Run], str], start: float | None = None):
        self.api, self.status, self.start = api, status, start
        self.hints: queue.Queue[int] = queue.Queue()
        self.threads: dict[int, threading.Thread] = {}
        self.broken: set[int] = set()
        self.next_poll: dict[int, float] = {}
        self.delays: dict[int, Iterator[float]] = {}
        self.last_line: dict[int, str] = {}
        self.followed_at: dict[int, float] = {}
        self.quick_ends: dict[int, int] = {}
        self.seen: dict[int, int] = {}  # events of each run's log already read, by whichever thread
        self.session_at: dict[int, tuple[float, float]] = {}  # the last event's session time, and when it came
        self.lock = threading.Lock()

    def _streaming(self, run: Run) -> bool:
        t = self.threads.get(run.id)
        return t is not None and t.is_alive()

    def _follow(self, run: Run) -> None:
        t = threading.Thread(target=self._read, args=(run,), daemon=True, name=f"kr-stream-{run.id}")
        self.threads[run.id] = t
        self.followed_at[run.id] = time.time()
        t.start()

    def _read(self, run: Run) -> None:
        owner, slug = run.owner_slug
        failures = 0
        tail: list[str] = []
        while True:
            index = 0
            try:
                for event in self.api.log_stream(owner, slug, run.version):
                    index += 1
                    if index > self.seen.get(run.id, 0):  # a reconnect replays the log from its start
                        self.seen[run.id], failures = index, 0
                        self._note(run.id, str(event.get("data", "")), tail, event.get("time"))
                break
            except KaggleError:  # the stream broke, or could not be opened
                failures += 1
                if failures >= STREAM_FAILURES:
                    self.broken.add(run.id)
                    break
                time.sleep(min(30.0, RECONNECT_SECONDS * 2 ** (failures - 1)))
        self.hints.put(run.id)

    def _note(self, run_id: int, data: str, tail: list[str], at: Any = None) -> None:
        """Keep the last metric point of the live log, and how far into its session the last event came (`at`,
        seconds); a few earlier lines go with each event, since a metric line may need its context (Keras prints
        `Epoch 3/12` on the line before)."""
        from kaggle_runner.ledger.metrics import extract, series

        if isinstance(at, int | float) and not isinstance(at, bool):
            with self.lock:
                self.session_at[run_id] = (float(at), time.time())
        if not data.strip():
            return
        tail += data.splitlines()
        del tail[: max(0, len(tail) - CONTEXT_LINES)]
        found = extract("\n".join(tail) + "\n")
        if found:
            p = found[-1]
            with self.lock:
                self.last_line[run_id] = f"{series(p)} {p['value']:.5g}"

    def elapsed(self, run: Run) -> float | None:
        """How long the run's session has run: its last live event's time, plus the time since it came; None
        before any event (a queued session)."""
        with self.lock:
            seen = self.session_at.get(run.id)
        return seen[0] + time.time() - seen[1] if seen else None

    def metric(self, run: Run) -> str | None:
        """The last metric point seen in the run's live log, as `series value`."""
        with self.lock:
            return self.last_line.get(run.id)

    def poll(self, runs: list[Run], wait: float) -> dict[int, str]:
        """Wait up to `wait` seconds (less when a stream ends), then ask the status of each run whose stream ended
        and of each run without a stream that is due a poll. Returns {run id: state} of the runs asked."""
        now = time.time()
        for r in runs:
            self.next_poll.setdefault(r.id, now)
        hinted: set[int] = set()
        try:
            hinted.add(self.hints.get(timeout=max(wait, 0.0)))
            while True:
                hinted.add(self.hints.get_nowait())
        except queue.Empty:
            pass
        now = time.time()
        asked: dict[int, str] = {}
        for r in runs:
            due = not self._streaming(r) and now >= self.next_poll[r.id]
            if r.id not in hinted and not due:
                continue
            state = self.status(r)
            asked[r.id] = state
            if state in FINAL_STATES:
                continue
            delay = next(self.delays.setdefault(r.id, poll_intervals(self.start)))
            self.next_poll[r.id] = now + delay
            if state != "RUNNING" or self._streaming(r) or r.id in self.broken:
                continue
            # the stream ended while the session lives (dropped by a load balancer, or it was opened while the
            # session was queued): follow it again, unless streams keep ending at once, which polling does better
            if r.id in hinted and now - self.followed_at.get(r.id, 0) < QUICK_END_SECONDS:
                self.quick_ends[r.id] = self.quick_ends.get(r.id, 0) + 1
                if self.quick_ends[r.id] >= STREAM_FAILURES:
                    self.broken.add(r.id)
                    continue
            self._follow(r)
        return asked
