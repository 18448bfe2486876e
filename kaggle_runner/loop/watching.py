"""A pushed run watched: its status (a final state of the previous version read as QUEUED), wait for one or many,
cancel, the log, and the live log followed. Progress goes through a `say` callback; results come back as data."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kaggle_runner.errors import UserError
from kaggle_runner.kaggle.api import KaggleError
from kaggle_runner.kaggle.log_events import parse_log, session_seconds
from kaggle_runner.kaggle.pacing import poll_intervals
from kaggle_runner.kaggle.rules import FINAL_STATES
from kaggle_runner.ledger import reports
from kaggle_runner.ledger.db import Run
from kaggle_runner.ledger.metrics import extract
from kaggle_runner.loop import bootstrap, control
from kaggle_runner.loop.outputs import pull
from kaggle_runner.project import Project, Say, Session

EXIT = {"COMPLETE": 0, "ERROR": 1, "CANCEL_ACKNOWLEDGED": 3}


def status(ctx: Session, run: Run) -> tuple[str, str | None]:
    """The run's session status. Right after a push Kaggle can still answer with the previous version's final
    state (docs/kaggle-facts.md; PR #1177 guards it): a final state while the kernel's current version is older
    than this run's is taken as QUEUED, the version not yet known."""
    owner, slug = run.owner_slug
    state, failure = ctx.api.kernel_status(owner, slug, run.number)
    if state in FINAL_STATES and run.status not in FINAL_STATES:
        current = ctx.api.current_version(run.ref)
        if current is not None and current < (run.version or 0):
            return "QUEUED", None
    ctx.ledger.set_status(run.id, state, failure)
    return state, failure


@dataclass(frozen=True)
class Waited:
    """How a followed run ended: its final state, the command's exit code, and where its outputs are (a completed
    or cancelled run is pulled) or the tail of its log (a failed one)."""

    status: str
    exit: int
    failure: str | None = None
    cancelled: str | None = None  # who stopped it, when it stopped on `kr cancel`'s request
    folder: Path | None = None
    log_tail: list[str] = field(default_factory=list)
    metric: str | None = None  # the headline metric of what was pulled, `validation.auc 0.93`


@dataclass(frozen=True)
class Cancelled:
    """What `kr cancel` did (`how`), the run's state after, and who ended it where that is known."""

    how: str
    status: str
    ended_by: str | None


def targets(ctx: Project, versions: list[str] | None, running: bool = False) -> list[Run]:
    """The runs `kr wait` follows: those named (v23, KERNEL:v23, latest, or a sweep sK's runs; by default the
    latest), or with `running` every run of the project that has not ended."""
    if running:
        return [r for r in ctx.ledger.runs() if r.status not in FINAL_STATES]
    from kaggle_runner.ledger.addresses import SWEEP_RE

    runs = []
    for text in versions or ["latest"]:
        if SWEEP_RE.match(text.strip()):
            runs += ctx.ledger.sweep_runs(ctx.ledger.sweep(text)["id"])
        else:
            runs.append(ctx.ledger.resolve(text, ctx.cfg.default_kernel))
    return runs


# a run ended cancelled (by a user, or by Kaggle at its time cap) keeps what it wrote by then: its checkpoints, and
# kr_progress.json, which says how far it got when the log comes back empty
KEPT = ("COMPLETE", "CANCEL_ACKNOWLEDGED")


def wait(ctx: Session, run: Run, on_tick: Callable[[str, float], None], say: Say) -> Waited:
    """Follow the run until it ends: its live log stream says when (streams.Watch), else polls of 5 s growing to
    60 s; `on_tick` gets its state (with the live log's last metric) and the session's elapsed time about every
    second. A completed run is pulled, with its headline metric; a failed one comes back with the tail of its log.
    `exit` is the command's exit code."""
    from kaggle_runner.loop.streams import Watch

    started = time.time()
    last: dict[str, str | None] = {"failure": None}

    def ask(r: Run) -> str:
        state, last["failure"] = status(ctx, r)
        return state

    watch = Watch(ctx.api, ask)
    state = run.status or "QUEUED"
    while True:
        state = watch.poll([run], 1.0).get(run.id, state)
        metric = watch.metric(run)
        on_tick(f"{state}  {metric}" if metric and state not in FINAL_STATES else state, _elapsed(watch, run, started))
        if state in FINAL_STATES:
            break
    stopped = (state == "ERROR" and ended_on_request(ctx, run)) or None
    # it stopped on `kr cancel`'s request: cancelled, with what it wrote by then
    code = EXIT["CANCEL_ACKNOWLEDGED"] if stopped else EXIT.get(state, 1)
    if state in KEPT or stopped:
        folder = pull(ctx, run, say)
        top = reports.headline(ctx.ledger.metrics(run.id), ctx.cfg.metric)
        return Waited(
            state, code, last["failure"], stopped, folder=folder, metric=f"{top[0]} {top[1]:.5g}" if top else None
        )
    tail: list[str] = []
    if state == "ERROR":
        text, events = log_text(ctx, run)
        ctx.ledger.record_seconds(run.id, session_seconds(text))
        tail = "".join(e.get("data", "") for e in events).splitlines()[-15:]
    return Waited(state, code, last["failure"], stopped, log_tail=tail)


def _elapsed(watch: Any, run: Run, started: float) -> float:
    """The session's own running time where its live log tells it, else the time since kr began to wait."""
    return watch.elapsed(run) or time.time() - started


def wait_many(ctx: Session, runs: list[Run], on_tick: Callable[[list[dict[str, Any]]], None], say: Say) -> int:
    """Follow many runs until all have ended, pulling each as it completes (or stops on request); `on_tick` gets a
    row per run {run, status, elapsed, metric, failure} about every second (elapsed: the session's own time where
    its live log tells it). Ends are learnt from the live log streams where
    they hold (streams.Watch), else by polling. Returns the exit code: 1 if any errored, else 3 if any was cancelled,
    else 0."""
    from kaggle_runner.loop.streams import Watch

    started = time.time()
    rows = {
        r.id: {"run": f"{r.kernel} {r.label}", "status": r.status, "elapsed": 0.0, "metric": None, "failure": None}
        for r in runs
    }
    ended: dict[int, str] = {}

    def ask(r: Run) -> str:
        state, rows[r.id]["failure"] = status(ctx, r)
        return state

    watch = Watch(ctx.api, ask)
    while len(ended) < len(runs):
        live = [r for r in runs if r.id not in ended]
        asked = watch.poll(live, 1.0)
        for r in live:
            row = rows[r.id]
            row.update(elapsed=_elapsed(watch, r, started), metric=watch.metric(r) or row["metric"])
            state = asked.get(r.id)
            if state is None:
                continue
            row["status"] = state
            if state in FINAL_STATES:
                stopped = state == "ERROR" and ended_on_request(ctx, r)
                if state in KEPT or stopped:
                    pull(ctx, r, say)
                    top = reports.headline(ctx.ledger.metrics(r.id), ctx.cfg.metric)
                    row["metric"] = f"{top[0]} {top[1]:.5g}" if top else None
                ended[r.id] = "CANCELLED" if stopped or state == "CANCEL_ACKNOWLEDGED" else state
                if stopped:
                    row["status"] = "CANCELLED"
        on_tick(list(rows.values()))
    states = set(ended.values())
    return 1 if "ERROR" in states else 3 if "CANCELLED" in states else 0


def log_text(ctx: Session, run: Run) -> tuple[str, list[dict[str, Any]]]:
    """The run's persisted log, as text and as events."""
    owner, slug = run.owner_slug
    raw = ctx.api.list_output(owner, slug, run.number, page_size=1).log or ""
    return raw, parse_log(raw)


def cancel(ctx: Session, run: Run, say: Say) -> Cancelled:
    """Stop a running run, and follow it until it has ended. Where the session id is known (the emulator's
    session_id_in_env), CancelKernelSession; on Kaggle, which exposes none, a request in the control dataset that
    the kernel's watcher reads when it has internet. Returns {how, status, ended_by}; raises where nothing can
    reach the run."""
    state, _ = status(ctx, run)
    if state in FINAL_STATES:
        raise UserError(f"{run.kernel} {run.label} has already ended ({state}); there is nothing to cancel")
    marker = None
    if state == "RUNNING":  # the persisted log is empty while a session runs: its marker is in the live stream
        owner, slug = run.owner_slug
        for n, event in enumerate(ctx.api.log_stream(owner, slug, run.number)):
            marker = bootstrap.find_marker(str(event.get("data", "")))
            if marker or n > 50:  # the bootstrap prints it first
                break
    if marker is None:
        raise UserError(
            f"{run.kernel} {run.label} is {state} and has not printed its KR_RUN marker yet; try again in a few seconds"
        )
    user = ctx.api.creds.username or ctx.owner
    if marker.get("session"):
        error = ctx.api.cancel(int(marker["session"]))
        if error:
            raise KaggleError(f"Kaggle did not cancel {run.kernel} {run.label}: {error}")
        ended_by = f"{user}: cancelled through CancelKernelSession (kr cancel)"
        ctx.ledger.record_end(run.id, ended_by)
        return Cancelled(f"session {marker['session']} cancelled", _until_final(ctx, run, 60), ended_by)
    if not marker.get("control"):  # no internet: nothing can reach the kernel, and Kaggle has no API cancel
        raise UserError(
            f"Kaggle offers no API cancel for {run.kernel} {run.label} (no session id is exposed, and without internet "
            f"the kernel cannot be asked); stop it {_where(ctx, run)}, and bound later runs with `timeout:` in kr.yaml"
        )
    owner = marker["control"].partition("/")[0]
    control.request_cancel(ctx.api, owner, marker["nonce"], user)
    patience = 3 * float(marker.get("poll") or control.POLL_SECONDS) + 30
    say(f"asked {run.kernel} {run.label} to stop (it checks every {marker.get('poll')} s); following it")
    final = _until_final(ctx, run, patience)
    stopped = ended_on_request(ctx, run) if final in FINAL_STATES else None
    if stopped:
        return Cancelled("cancelled on request", final, stopped)
    if final in FINAL_STATES:
        return Cancelled(f"it ended first ({final})", final, None)
    raise KaggleError(
        f"{run.kernel} {run.label} is still {final} {patience:.0f} s after the request: the kernel did not answer "
        f"(no API access from it?); stop it {_where(ctx, run)}"
    )


def _where(ctx: Session, run: Run) -> str:
    """Where a person stops a run by hand: Kaggle's page of the kernel, or the emulator itself."""
    page = ctx.api.page(run.ref)
    return f"at {page}" if page else f"on the emulator at {ctx.api.url} (it has no web pages: stop `kr emulator serve`)"


def _until_final(ctx: Session, run: Run, patience: float) -> str:
    deadline = time.time() + patience
    for delay in poll_intervals():
        state, _ = status(ctx, run)
        if state in FINAL_STATES or time.time() > deadline:
            return state
        time.sleep(min(delay, max(0.1, deadline - time.time())))
    raise AssertionError("unreachable")


REFRESH_BUDGET = 20  # runs a listing asks Kaggle about, newest first: one status call each


def refresh(ctx: Session) -> list[Run]:
    """Ask Kaggle afresh about the runs the ledger has not seen end (the newest REFRESH_BUDGET), so that a listing
    is true without `kr wait`: one status call each, and for a run found ended, one read of its log for how long
    its session ran, its metric points and whether it stopped on a cancel request. Returns the runs asked about."""
    stale = [r for r in ctx.ledger.runs() if r.version and r.status not in FINAL_STATES][-REFRESH_BUDGET:]
    for run in stale:
        state, _ = status(ctx, run)
        if state in FINAL_STATES:
            text, events = log_text(ctx, run)
            ctx.ledger.record_seconds(run.id, session_seconds(text))
            if not ctx.ledger.metrics(run.id):  # the headline metric, before anyone pulls the outputs
                ctx.ledger.record_metrics(run.id, extract(text))
            line = control.cancelled_in("".join(str(e.get("data", "")) for e in events)) if state == "ERROR" else None
            if line is not None:
                ctx.ledger.record_end(run.id, f"{line.get('by') or 'someone'}: cancelled on request (kr cancel)")
    return stale


def ending(ctx: Session, run: Run, patience: float = 60) -> tuple[str, int]:
    """How a run whose log stream has ended finished: its state, asked until final (up to `patience` seconds), and
    the exit code kr wait gives it (0 COMPLETE, 1 ERROR or still not final, 3 cancelled)."""
    state = _until_final(ctx, run, patience)
    if state == "ERROR" and ended_on_request(ctx, run):
        return state, EXIT["CANCEL_ACKNOWLEDGED"]
    return state, EXIT.get(state, 1)


def ended_on_request(ctx: Session, run: Run) -> str | None:
    """Whether an ended run stopped on a cancel request (its log's KR_CANCELLED line); recorded in the ledger."""
    if run.ended_by:
        return run.ended_by
    _, events = log_text(ctx, run)
    line = control.cancelled_in("".join(str(e.get("data", "")) for e in events))
    if line is None:
        return None
    ended_by = f"{line.get('by') or 'someone'}: cancelled on request (kr cancel)"
    ctx.ledger.record_end(run.id, ended_by)
    return ended_by


def follow(ctx: Session, run: Run) -> Iterator[dict[str, Any]]:
    """Events of the live log; after a dropped connection, events already shown are not repeated."""
    owner, slug = run.owner_slug
    seen, failures = 0, 0
    while True:
        index = 0
        try:
            for event in ctx.api.log_stream(owner, slug, run.number):
                index += 1
                if index > seen:
                    seen = index
                    failures = 0
                    yield event
            return
        except KaggleError:  # the stream broke: reconnect, skip what was shown
            failures += 1
            if failures > 5:
                raise
            time.sleep(1.0)
