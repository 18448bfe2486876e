"""`kr sweep`: a grid of params run as versions of one kernel, as many at once as Kaggle's session cap allows,
held when the accelerator quota left would not cover another run; its state is the ledger, so it resumes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kaggle_runner import params
from kaggle_runner.errors import UserError
from kaggle_runner.kaggle import accelerators
from kaggle_runner.kaggle.api import KaggleError
from kaggle_runner.kaggle.pacing import poll_intervals
from kaggle_runner.kaggle.rules import FINAL_STATES, SESSION_CAPS
from kaggle_runner.ledger.db import Run
from kaggle_runner.loop import outputs, pushing, watching
from kaggle_runner.loop import quota as quotas
from kaggle_runner.loop.streams import Watch
from kaggle_runner.project import Say, Session

Tick = Callable[[list[dict[str, Any]]], None]


def start(
    ctx: Session,
    axes: list[str],
    kernel: str | None = None,
    accel: str | None = None,
    message: str = "",
    max_parallel: int | None = None,
    zipped: bool = False,
    set_new: bool = False,
    say: Say = print,
    on_tick: Tick | None = None,
) -> dict[str, Any]:
    """Record sweep sK with its grid, then run it (see run)."""
    spec = ctx.cfg.kernel(kernel)
    parsed, points = params.grid(axes, zipped)
    unknown = [k for k in parsed if k not in ctx.cfg.params]
    if unknown and not set_new:
        known = ", ".join(sorted(ctx.cfg.params)) or "none: add params: to kr.yaml"
        raise UserError(f"kr sweep: {', '.join(unknown)} not in kr.yaml params ({known}); add --set-new to use them")
    if max_parallel is not None and max_parallel < 1:
        raise UserError(f"--max-parallel: {max_parallel} must be at least 1")
    sweep_id = ctx.ledger.create_sweep(spec.name, accel, message, parsed, points, max_parallel)
    say(f"s{sweep_id}: {len(points)} points of {spec.name} over {', '.join(parsed)}")
    return run(ctx, f"s{sweep_id}", say, on_tick)


def run(ctx: Session, label: str, say: Say = print, on_tick: Tick | None = None) -> dict[str, Any]:
    """Push the sweep's points not pushed yet while slots are free (the cap is learnt from the first push Kaggle
    refuses; then a point waits for one of the sweep's runs to end, seen on its log stream), pull each run as it
    completes, and stop starting runs when the quota left would not cover the mean duration of the sweep's finished
    runs. Safe to run again: a point with a version is never pushed twice (a push cut off half-way was settled by
    connect()). `on_tick` gets a row per point about every second (see `_rows`), for one live table."""
    sw = ctx.ledger.sweep(label)
    spec = ctx.cfg.kernel(sw["kernel"])
    accel = sw["accelerator"] or spec.accelerator
    kind = accelerators.kind_of(accel)
    held: str | None = None
    # sessions at once: Kaggle's cap for the kind (a TPU sweep runs one point at a time), lowered when a push is
    # refused with fewer of the sweep's runs live (sessions outside the sweep hold the rest)
    cap: int | None = SESSION_CAPS.get(kind or "")
    watch = Watch(ctx.api, lambda r: watching.status(ctx, r)[0])
    elsewhere = poll_intervals()  # waits while every slot is held by sessions outside this sweep
    wait = 0.0
    tops: dict[int, str | None] = {}  # the headline metric of each ended run, read from the ledger once
    while True:
        runs = ctx.ledger.sweep_runs(sw["id"])
        pending = [r for r in runs if r.status not in FINAL_STATES]
        asked = watch.poll(pending, wait) if pending else {}
        wait = 1.0
        live = []
        for r in runs:
            state = asked.get(r.id, r.status)
            if state not in FINAL_STATES:
                live.append(r)
            elif state == "COMPLETE" and r.pulled is None:
                outputs.pull(ctx, ctx.ledger.run_by_id(r.id), say)
                say(f"{label}: {r.kernel} {r.label} {_point(sw, r)} COMPLETE, pulled")
        todo = [i for i in range(len(sw["points"])) if i not in {r.sweep_point for r in runs}]
        if on_tick is not None:
            on_tick(_rows(ctx, sw, runs, asked, watch, held, tops))
        if not live and (not todo or held):
            break
        limits = [n for n in (sw["max_parallel"], cap) if n is not None]
        if todo and not held and (not limits or len(live) < min(limits)):
            held = _quota_hold(ctx, kind, runs, live, len(todo))
            if held:
                say(f"{label}: {held}")
                continue
            point = sw["points"][todo[0]]
            try:
                pushed = pushing.push(
                    ctx,
                    sw["kernel"],
                    sw["accelerator"],
                    " ".join(x for x in (sw["message"], _text(point)) if x),
                    say,
                    params={**ctx.cfg.params, **point},
                    sweep=(sw["id"], todo[0]),
                )
            except KaggleError as e:
                if not pushing.CAP_RE.search(str(e)):
                    raise
                # at the cap: the next point waits for one of the sweep's runs to end, seen on its log stream,
                # rather than being pushed again and again
                cap = len(live)
                say(f"{label}: Kaggle holds {cap} sessions at a time now; the next point waits for a slot")
                if cap == 0:  # every slot is held outside this sweep: only polling can tell when one frees
                    cap = None
                    time.sleep(next(elsewhere))
                continue
            say(f"{label}: pushed {pushed.kernel} {pushed.label} {_text(point)} ({len(todo) - 1} to go)")
            wait = 0.0
    runs = ctx.ledger.sweep_runs(sw["id"])
    return {
        "sweep": label,
        "points": len(sw["points"]),
        "runs": [{"id": r.label, "params": r.params, "status": ctx.ledger.run_by_id(r.id).status} for r in runs],
        "held": held,
    }


def _rows(
    ctx: Session,
    sw: dict[str, Any],
    runs: list[Run],
    asked: dict[int, str],
    watch: Watch,
    held: str | None,
    tops: dict[int, str | None],
) -> list[dict[str, Any]]:
    """The sweep as a live table shows it, a row per point: {point, params, run, status, elapsed, metric}. A point
    not pushed yet is "waiting" (or "held" for the quota); elapsed is the session's own time where its log says."""
    from kaggle_runner.ledger import reports

    by_point = {r.sweep_point: r for r in runs}
    rows = []
    for i, point in enumerate(sw["points"]):
        r = by_point.get(i)
        row = {"point": i + 1, "params": _text(point), "run": "", "status": "held" if held else "waiting"}
        row.update(elapsed=None, metric=None)
        if r is not None:
            row.update(run=r.label, status=asked.get(r.id, r.status) or "QUEUED", elapsed=watch.elapsed(r) or r.seconds)
            if row["status"] in FINAL_STATES and r.id not in tops:
                top = reports.headline(ctx.ledger.metrics(r.id), ctx.cfg.metric)
                tops[r.id] = f"{top[0]} {top[1]:.5g}" if top else None
            row["metric"] = tops.get(r.id) or watch.metric(r)
        rows.append(row)
    return rows


def _text(point: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in point.items())


def _point(sw: dict[str, Any], r: Run) -> str:
    return _text(sw["points"][r.sweep_point]) if r.sweep_point is not None else ""


def _quota_hold(ctx: Session, kind: str | None, runs: list[Run], live: list[Run], todo: int) -> str | None:
    """Why the next point must wait for the quota, or None: the time left covers no run beyond the running ones,
    at the mean length of the sweep's finished runs (quota.Meter.hold)."""
    if kind not in quotas.METERED:
        return None
    q = quotas.read(ctx, sample=runs)
    meter = q.gpu if kind == "gpu" else q.tpu
    if meter.mean_run is None or not meter.hold(len(live)):
        return None
    return (
        f"holding {todo} points: {kind.upper()} quota left {meter.left / 3600:.2f} h covers "
        f"{_count(meter.runs_that_fit or 0, 'run')} of {meter.mean_run / 3600:.2f} h, and {len(live)} running; "
        "`kr quota` shows when it refreshes, then `kr sweep resume`"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
