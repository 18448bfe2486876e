"""Commands that read the ledger: ls, show, diff, compare, plot, and note (the one that writes a line to it).
Each calls one function of reports (or plots) and renders it; none talks to Kaggle."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Optional

import typer

from kaggle_runner.cli.app import app, connect, project
from kaggle_runner.cli.render import (
    GAP,
    as_json,
    correlation_table,
    duration,
    err,
    num,
    submissions_table,
    table,
    width,
)
from kaggle_runner.errors import UserError
from kaggle_runner.kaggle.rules import FINAL_STATES

if TYPE_CHECKING:
    from kaggle_runner.project import Project

TARGET_HELP = "v23, KERNEL:v23, latest or m3."


def _refresh() -> None:
    """Runs not seen ending are asked about afresh; without credentials or Kaggle, they show as last seen."""
    from kaggle_runner.kaggle.api import KaggleError  # requests and kagglesdk: not at start-up
    from kaggle_runner.loop import watching

    try:
        watching.refresh(connect())
    except (UserError, KaggleError) as e:
        err(f"warning: runs not seen ending show as last seen ({e})")


@app.command("ls")
def ls_(
    json_: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    sort: str = typer.Option(
        "id",
        "--sort",
        help="id, kernel, status, duration, metric, public or created; "
        "scores sort best (highest) first; add :asc or :desc to choose.",
    ),
    sweep: Optional[str] = typer.Option(None, "--sweep", help="Only the runs of sweep sK."),
    params: str = typer.Option("", "--params", help="Params to show as columns, comma-separated (lr,smoothing)."),
    team_: bool = typer.Option(False, "--team", help="Every member's runs and merges, from the team's MLflow server."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", help="Only the last N rows (in the sort's order)."),
) -> None:
    """Every run and merge: status, duration, headline validation metric, public score, message, commit, date."""
    from kaggle_runner.ledger import reports

    ctx = project()
    if team_:
        if sweep or params or sort != "id":
            raise UserError(
                "kr ls --team lists every member's runs as they were made; --sort, --sweep and --params "
                "are for this project's ledger (kr ls)"
            )
        _ls_team(ctx, json_)
        return
    if any(r.version and r.status not in FINAL_STATES for r in ctx.ledger.runs()):
        _refresh()
    rows = reports.ls_rows(ctx.ledger, ctx.cfg.default_kernel, ctx.cfg.metric, sort, sweep)
    if limit is not None:
        if limit < 1:
            raise UserError(f"--limit: {limit} rows is none; give a positive number")
        rows = rows[-limit:] if sort.partition(":")[0] == "id" else rows[:limit]
    if json_:
        as_json([r.as_json() for r in rows])
        return
    names = {r.metric_name for r in rows if r.metric_name}
    title = names.pop() if len(names) == 1 else "val metric"
    shown = [p.strip() for p in params.split(",") if p.strip()]
    table(
        None,
        ["id", "kernel", "accel", "status", "time", *shown, title, "public", "message", "commit", "date"],
        [
            [
                r.id,
                r.kernel,
                r.accelerator,
                r.status,
                duration(r.duration),
                *[num(r.params.get(p)) for p in shown],
                num(r.metric) + (f" {r.metric_name}" if names and r.metric_name != title else ""),
                num(r.public),
                r.message + "".join(f"  [{n}]" for n in r.notes),
                (r.git_commit or "")[:7] + ("*" if r.git_dirty else ""),
                time.strftime("%m-%d %H:%M", time.localtime(r.created)) if r.created else "",
            ]
            for r in rows
        ],
        right=("time", title, "public", *shown),
        spare=("date", "commit", "accel", "kernel"),
        best=("public",),
    )


def _ls_team(ctx: Project, json_: bool) -> None:
    from kaggle_runner.team import view

    rows = view.ls_rows(ctx)
    if json_:
        as_json([r.as_json() for r in rows])
        return
    table(
        None,
        ["user", "id", "kernel", "accel", "status", "time", "val metric", "public", "message"],
        [
            [
                r.user,
                r.id,
                r.kernel,
                r.accelerator,
                r.status,
                duration(r.duration),
                num(r.metric) + (f" {r.metric_name}" if r.metric_name else ""),
                num(r.public),
                r.message + "".join(f"  [{n}]" for n in r.notes),
            ]
            for r in rows
        ],
        right=("time", "val metric", "public"),
    )


def _progress_line(p: dict[str, Any]) -> str:
    """kr_progress.json in one line: `epoch 3 of 10 done (step 1200), validation auc 0.93, checkpoint best.pt`."""
    epochs = f" of {p['epochs']}" if isinstance(p.get("epochs"), int) else ""
    parts = [f"epoch {p['epoch'] + 1}{epochs} done (step {p['step']})"]
    metrics = p["metrics"].items()
    parts += [f"{split} " + " ".join(f"{k} {num(v, 5)}" for k, v in m.items()) for split, m in metrics if m]
    if p.get("checkpoint"):
        parts.append(f"checkpoint {p['checkpoint']}")
    return ", ".join(parts) + " (kr_progress.json)"


@app.command()
def show(
    target: str = typer.Argument("latest", help=TARGET_HELP),
    json_: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """One run or merge: what changed in kr.yaml since the previous version, metrics, files, submissions, notes."""
    from kaggle_runner.ledger import reports

    ctx = project()
    item = ctx.ledger.resolve_any(target, ctx.cfg.default_kernel)
    info = reports.show(ctx.ledger, item, ctx.cfg.default_kernel, ctx.cfg.metric)
    if json_:
        as_json(info)
        return
    typer.echo(f"{info['id']}  {info['message']}")
    if info["kind"] == "run":
        commit = (info["git_commit"] or "no git")[:12] + (" (uncommitted changes)" if info["git_dirty"] else "")
        typer.echo(f"  {info['ref']}  {info['accelerator']}  {info['status']}  {duration(info['duration'])}  {commit}")
        if info["failure"]:
            typer.echo(f"  failure: {info['failure']}")
        if info["ended_by"]:
            typer.echo(f"  ended by {info['ended_by']}")
        if info["progress"]:
            typer.echo(f"  progress: {_progress_line(info['progress'])}")
        outputs = [s["label"] for s in info["sources"] if s.get("kind") != "model"]
        if outputs:
            typer.echo("  reads the output of " + ", ".join(outputs))
        models = [s["label"].removeprefix("model ") for s in info["sources"] if s.get("kind") == "model"]
        if models:
            typer.echo("  reads model " + "; ".join(models))
        if info["published"]:
            typer.echo("  published as " + ", ".join(f"{m['ref']} v{m['version']}" for m in info["published"]))
        if info["params"]:
            typer.echo("  params: " + " ".join(f"{k}={v}" for k, v in info["params"].items()))
        if info["previous"]:
            changed = [f"{k} {num(a)} -> {num(b)}" for k, (a, b) in info["params_diff"].items()]
            typer.echo(f"\nparams since {info['previous']}: " + (", ".join(changed) if changed else "unchanged"))
            typer.echo(f"kr.yaml since {info['previous']}:" + ("" if info["config_diff"] else " unchanged"))
            for line in info["config_diff"][2:]:
                typer.echo(f"  {line}")
        if info["metrics"]:
            table(
                "metrics",
                ["series", "last", "min", "max", "points"],
                [
                    [m["series"], num(m["last"], 6), num(m["min"], 6), num(m["max"], 6), m["points"]]
                    for m in info["metrics"]
                ],
                right=("last", "min", "max", "points"),
            )
        for s in info["skipped"]:
            typer.echo(f"  skipped output {s['name']!r}: {s['why']}")
        if info["files"]:
            table(
                "files",
                ["path", "bytes", "sha256"],
                [[f["path"], f["size"], f["sha256"][:12]] for f in info["files"]],
                right=("bytes",),
            )
    else:
        typer.echo(f"  {info['rows']} rows -> {info['output']} (sha256 {info['output_sha256'][:12]})")
        for i in info["inputs"]:
            typer.echo(f"  input {i['source']}: {i['path']} (sha256 {i['sha256'][:12]})")
        for column, matrix in info["correlation"].items():
            correlation_table(column, [i["source"] for i in info["inputs"]], matrix, info["method"])
    if info["submissions"]:
        submissions_table(info["submissions"])
    for note_ in info["notes"]:
        typer.echo(f"note: {note_}")


@app.command("diff")
def diff_(
    old: str = typer.Argument(..., help="The earlier run: v10, KERNEL:v10."),
    new: str = typer.Argument("latest", help="The later run (default latest)."),
    json_: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """What changed between two runs: the code as pushed (bootstrap left out), the params and kr.yaml."""
    from kaggle_runner.ledger import reports
    from kaggle_runner.ledger.db import Run

    ctx = project()
    a, b = (ctx.ledger.resolve_any(t, ctx.cfg.default_kernel) for t in (old, new))
    for target, item in ((old, a), (new, b)):
        if not isinstance(item, Run):
            raise UserError(f"{target} is a merge; kr diff compares runs (kr show {target} lists a merge's inputs)")
    assert isinstance(a, Run) and isinstance(b, Run)
    info = reports.diff(ctx.ledger, a, b, ctx.cfg.default_kernel)
    if json_:
        as_json(info)
        return
    for name in info["unkept"]:
        err(f"note: {name} was pushed before kr kept sources; its code cannot be compared")
    changed = [f"{k} {num(x)} -> {num(y)}" for k, (x, y) in info["params"].items()]
    typer.echo(f"params: {', '.join(changed) if changed else 'unchanged'}")
    typer.echo("kr.yaml:" + ("" if info["config"] else " unchanged"))
    for line in info["config"][2:]:
        typer.echo(f"  {line}")
    if not info["unkept"]:
        typer.echo("code:" + ("" if info["code"] else " unchanged"))
        for line in info["code"]:
            typer.echo(line)


@app.command()
def compare(
    targets: list[str] = typer.Argument(
        ..., help="Two or more of v23, KERNEL:v23, latest, m3, a sweep s3, or a teammate's run alice/v21."
    ),
    diff: bool = typer.Option(False, "--diff", help="Only the rows whose values differ."),
    json_: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Runs and merges side by side: params, each metric's last value, the public score, kr.yaml keys that differ.
    Rows whose values differ are marked *; runs go on rows when they do not fit side by side."""
    from kaggle_runner.team import view

    ctx = project(owner_from_credentials=True)
    info = view.compare_targets(ctx, targets)
    if json_:
        as_json(info)
        return
    labels = info["columns"]
    named = [(f"param {k}", [num(v) for v in vs]) for k, vs in info["params"].items()]
    named += [("public score", [num(v) for v in info["public"]])]
    named += [(k, [num(v, 6) for v in vs]) for k, vs in info["metrics"].items()]
    named += [(f"kr.yaml {k}", [num(v) for v in vs]) for k, vs in info["config"].items()]
    differs = {name: len(set(values)) > 1 for name, values in named}
    named = [(name, values) for name, values in named if differs[name] or not diff]
    side_by_side = (
        2
        + max([len(n) for n, _ in named] + [0])
        + sum(GAP + max([len(label)] + [len(vs[i]) for _, vs in named]) for i, label in enumerate(labels))
    )
    if side_by_side <= width():
        rows = [[("* " if differs[name] else "  ") + name, *values] for name, values in named]
        table(None, ["", *labels], rows, right=tuple(labels))
        return
    columns = [("*" if differs[name] else "") + name.removeprefix("param ") for name, _ in named]
    table(
        None,
        ["", *columns],
        [[label, *[vs[i] for _, vs in named]] for i, label in enumerate(labels)],
        right=tuple(columns),
    )


@app.command()
def plot(
    targets: list[str] = typer.Argument(None, help="Runs to draw (v21 v22 ..., or a sweep s3)."),
    metric: Optional[str] = typer.Option(None, "--metric", help="Series or name to draw, e.g. validation.auc or loss."),
    scores_: bool = typer.Option(False, "--scores", help="Draw the public score of every run and merge instead."),
    by: Optional[str] = typer.Option(None, "--by", help="Draw the metric's last value against this param instead."),
    out: str = typer.Option(..., "-o", "--output", help="PNG file to write."),
) -> None:
    """Learning curves of runs (--metric), a metric against a param (--by), or public scores (--scores), as a PNG."""
    from kaggle_runner.ledger import plots, reports

    ctx = project()
    if scores_:
        n = plots.scores(reports.ls_rows(ctx.ledger, ctx.cfg.default_kernel, ctx.cfg.metric), out)
        typer.echo(f"{out}: public scores of {n} runs and merges")
        return
    if not targets or not metric:
        raise UserError(
            "kr plot needs runs and --metric (kr plot v1 v2 --metric validation.auc -o curves.png), or --scores"
        )
    if by:
        n = plots.by_param(reports.by_param(ctx.ledger, targets, ctx.cfg.default_kernel, metric, by), by, metric, out)
        typer.echo(f"{out}: {metric} of {n} runs against {by}")
        return
    n = plots.curves(reports.curves(ctx.ledger, targets, ctx.cfg.default_kernel), metric, out)
    typer.echo(f"{out}: {n} curves of {metric}")


@app.command()
def note(
    target: str = typer.Argument(..., help=TARGET_HELP),
    text: str = typer.Argument(..., help="The note, e.g. 'smooth 0.05 helps; try 0.1'."),
) -> None:
    """Attach a note to a run or merge (shown by kr ls and kr show)."""

    ctx = project(owner_from_credentials=True)
    ctx.ledger.note(ctx.ledger.resolve_any(target, ctx.cfg.default_kernel), text)
    typer.echo(f"noted on {target}")
