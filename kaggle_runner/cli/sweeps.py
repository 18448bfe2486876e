"""`kr sweep` and `kr quota`: grids of params run under Kaggle's session cap and quota, and the quota itself.
They call sweeps.start/run and quota.read, and render what those return."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Optional

import typer

from kaggle_runner.cli.app import app, connect, on_interrupt
from kaggle_runner.cli.render import as_json, clock, err, live_table, showing_progress, table
from kaggle_runner.errors import UserError
from kaggle_runner.kaggle.rules import SESSION_CAPS


@app.command(context_settings={"allow_interspersed_args": True})
def sweep(
    axes: list[str] = typer.Argument(
        ..., help="key=v1,v2 per param (a grid of every combination), or `resume sK` to continue sweep sK."
    ),
    kernel: Optional[str] = typer.Option(None, "--kernel", help="Kernel name from kr.yaml (default: the first)."),
    accel: Optional[str] = typer.Option(None, "--accel", help="tpu | gpu | t4x2 | p100 | cpu (default: kr.yaml's)."),
    message: str = typer.Option("", "-m", "--message", help="Message of every run (each adds its params)."),
    max_parallel: Optional[int] = typer.Option(
        None, "--max-parallel", help="Runs at once (default: as many as Kaggle's session cap allows)."
    ),
    zipped: bool = typer.Option(False, "--zip", help="Pair the lists in order instead of every combination."),
    set_new: bool = typer.Option(False, "--set-new", help="Allow params that kr.yaml params: lacks."),
    json_: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Run a grid of params as versions, keeping Kaggle's slots busy; `kr sweep resume sK` continues one."""
    from kaggle_runner.loop import sweeps

    ctx = connect()
    on_interrupt(
        lambda: f"its runs go on on Kaggle; `kr sweep resume s{ctx.ledger.latest_sweep()}` continues the sweep"
    )
    if axes[0] == "resume" and len(axes) != 2:
        raise UserError("kr sweep resume: name one sweep, e.g. kr sweep resume s1")
    with _live_view(json_) as (say, on_tick):
        if axes[0] == "resume":
            out = sweeps.run(ctx, axes[1], say, on_tick)
        else:
            out = sweeps.start(ctx, axes, kernel, accel, message, max_parallel, zipped, set_new, say, on_tick)
    if json_:
        as_json(out)
        return
    done = sum(1 for r in out["runs"] if r["status"] == "COMPLETE")
    typer.echo(f"{out['sweep']}: {done} of {out['points']} points COMPLETE; `kr compare {out['sweep']}` shows them")
    if out["held"]:
        raise typer.Exit(4)


@contextmanager
def _live_view(json_: bool) -> Iterator[tuple[Callable[[str], None], Callable[[list[dict[str, Any]]], None] | None]]:
    """On a terminal, one live table of the sweep's points on stderr, with the sweep's own events (pushed, pulled,
    held) above it and the chatter of each push and pull (datasets unchanged, files downloaded) left out.
    Elsewhere, or with --json or -q, every line as it comes."""
    if json_ or not showing_progress():
        yield err, None
        return
    from rich.console import Console
    from rich.live import Live

    def view(rows: list[dict[str, Any]]) -> Any:
        return live_table(
            ["point", "params", "run", "status", "elapsed", "metric"],
            [
                [str(r["point"]), r["params"], r["run"], r["status"], clock(r["elapsed"]), r["metric"] or ""]
                for r in rows
            ],
        )

    with Live(view([]), console=Console(stderr=True), transient=False) as live:

        def say(line: str) -> None:
            if re.match(r"s\d+: |warning: ", line):
                live.console.print(line, markup=False, highlight=False)

        yield say, lambda rows: live.update(view(rows))


@app.command()
def quota(json_: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """GPU and TPU time used, allowed and left this week, when it refreshes, and kr's runs holding sessions."""
    from kaggle_runner.loop import quota as quotas

    q = quotas.read(connect())
    if json_:
        as_json(q.as_json())
        return
    meters = {"gpu": q.gpu, "tpu": q.tpu}
    rows = [
        [
            kind.upper(),
            f"{m.used / 3600:.2f} h",
            f"{m.allowed / 3600:.2f} h",
            f"{m.left / 3600:.2f} h",
            "" if m.runs_that_fit is None else str(m.runs_that_fit),
            f"{len(q.running[kind])} of {SESSION_CAPS[kind]}",
            ", ".join(q.running[kind]),
        ]
        for kind, m in meters.items()
    ]
    table(None, ["", "used", "allowed", "left", "runs that fit", "sessions", "kr's running runs"], rows)
    typer.echo(f"refreshes {_until(q.refresh) if q.refresh else 'at a time Kaggle did not say'}")


def _until(when: dt.datetime) -> str:
    """`in 5 d 8 h (2026-12-12 00:00 UTC)`: how long until a UTC time, then the time itself."""
    left = max(0, int((when - dt.datetime.now(dt.UTC).replace(tzinfo=None)).total_seconds()))
    days, hours, minutes = left // 86400, left // 3600 % 24, left // 60 % 60
    span = f"{days} d {hours} h" if days else f"{hours} h {minutes} min" if hours else f"{minutes} min"
    return f"in {span} ({when:%Y-%m-%d %H:%M} UTC)"
