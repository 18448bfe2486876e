"""`kr sweep` and `kr quota`: grids of params run under Kaggle's session cap and quota, and the quota itself.
They call sweeps.start/run and kaggle_api.quota, and render what those return."""

from __future__ import annotations

import time
from typing import Optional

import typer

from kaggle_runner.cli.app import app, connect
from kaggle_runner.cli.render import as_json, err, table
from kaggle_runner.errors import UserError


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
    if axes[0] == "resume":
        if len(axes) != 2:
            raise UserError("kr sweep resume: name one sweep, e.g. kr sweep resume s1")
        out = sweeps.run(ctx, axes[1], err)
    else:
        out = sweeps.start(ctx, axes, kernel, accel, message, max_parallel, zipped, set_new, err)
    if json_:
        as_json(out)
        return
    done = sum(1 for r in out["runs"] if r["status"] == "COMPLETE")
    typer.echo(f"{out['sweep']}: {done} of {out['points']} points COMPLETE; `kr compare {out['sweep']}` shows them")
    if out["held"]:
        raise typer.Exit(4)


@app.command()
def quota(json_: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """GPU and TPU time used, allowed and left this week, when it refreshes, and kr's runs holding sessions."""
    from kaggle_runner.kaggle import accelerators
    from kaggle_runner.kaggle.rules import FINAL_STATES

    ctx = connect()
    q = ctx.api.quota()
    running: dict[str, list[str]] = {"gpu": [], "tpu": [], "cpu": []}
    means: dict[str, list[float]] = {"gpu": [], "tpu": []}
    for run in ctx.ledger.runs():
        if run.accelerator not in accelerators.ALIASES:
            continue
        kind = accelerators.resolve(accelerators.ALIASES[run.accelerator]).kind
        if run.status not in FINAL_STATES:
            running[kind].append(f"{run.kernel} {run.label}")
        elif run.finished and kind in means and time.time() - run.finished < 14 * 86400:
            means[kind].append(run.finished - run.created)
    out = {"refresh": q["refresh"].isoformat() + "Z" if q["refresh"] else None, "running": running}
    for kind in ("gpu", "tpu"):
        left = max(0.0, q[kind]["allowed"] - q[kind]["used"] - q[kind]["reserved"])
        mean = sum(means[kind]) / len(means[kind]) if means[kind] else None
        out[kind] = {
            **{k: round(v / 3600, 3) for k, v in q[kind].items()},
            "left": round(left / 3600, 3),
            "mean_run": round(mean / 3600, 3) if mean else None,
            "runs_that_fit": int(left // mean) if mean else None,
        }
    if json_:
        as_json(out)
        return
    rows = [
        [
            kind.upper(),
            f"{out[kind]['used']:.2f} h",
            f"{out[kind]['allowed']:.2f} h",
            f"{out[kind]['left']:.2f} h",
            str(out[kind]["runs_that_fit"]) if out[kind]["runs_that_fit"] is not None else "",
            ", ".join(running[kind]),
        ]
        for kind in ("gpu", "tpu")
    ]
    table(None, ["", "used", "allowed", "left", "runs that fit", "kr's running runs"], rows)
    typer.echo(f"refreshes {out['refresh'] or 'at a time Kaggle did not say'}")
