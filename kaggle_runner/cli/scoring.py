"""Commands that reach the leaderboard: submit, scores, and merge (ensembles to submit).
They call submissions.submit/refresh and merging.merge, and render what those return."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from kaggle_runner.cli.app import app, connect, project
from kaggle_runner.cli.render import as_json, correlation_table, err, spinner, submissions_table
from kaggle_runner.errors import UserError

COMPETITION_HELP = "Default: kr.yaml's competition."


def _competition(ctx: Any, competition: Optional[str]) -> str:
    comp = competition or ctx.cfg.competition
    if not comp:
        raise UserError("no competition: add `competition: <slug>` to kr.yaml or pass --competition")
    return comp


@app.command()
def submit(
    target: str = typer.Argument(..., help="v23, KERNEL:v23, latest, m3 (a merge) or a CSV file."),
    message: str = typer.Option("", "-m", "--message", help="Description shown on Kaggle (after the version)."),
    wait_: bool = typer.Option(False, "--wait", help="Wait for the score and record it."),
    competition: Optional[str] = typer.Option(None, "--competition", "-c", help=COMPETITION_HELP),
    file_name: Optional[str] = typer.Option(
        None, "--file", "-f", help="The run's output file to submit (default: kr.yaml submission:, submission.csv)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Send a file (or kernel version) already submitted to this competition again."
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Check a submission file against the sample submission, upload it, and record it (and its score).
    To a code competition, send the run's kernel version instead: Kaggle re-runs it on the hidden test set."""
    from kaggle_runner.loop import submissions

    ctx = connect()
    comp = _competition(ctx, competition)
    result = submissions.submit(ctx, target, message, comp, err, file_name, force)
    name = result["source"] or result["file"]
    if result["reads"] and not json_:
        typer.echo(f"{name} read the output of {', '.join(result['reads'])}")
    if wait_:
        with spinner(f"{name}: scoring") as live:
            scored = submissions.wait_score(
                ctx, comp, result["ref"], lambda st, t: live.update(f"{name}: {st.lower()} {int(t)}s")
            )
        result.update(scored)
    if json_:
        as_json(result)
    elif result["status"] == "COMPLETE":
        private = f", private {result['private_score']}" if result.get("private_score") else ""
        typer.echo(f"{name}: public {result['public_score']}{private} (submission {result['ref']} to {comp})")
    elif result["status"] == "ERROR":
        err(f"{name}: Kaggle could not score submission {result['ref']}: {result.get('error') or 'no reason given'}")
    else:
        typer.echo(f"{name}: submitted to {comp} as {result['ref']}; `kr scores` shows its score once ready")
    if result["status"] == "ERROR":
        raise typer.Exit(1)


@app.command()
def scores(
    competition: Optional[str] = typer.Option(None, "--competition", "-c", help=COMPETITION_HELP),
    download: bool = typer.Option(
        False, "--download", help="Fetch teammates' submitted files, for `kr merge subN` (always with tracking:)."
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Refresh every submission's status and scores from Kaggle, including ones made outside kr and by teammates."""
    from kaggle_runner.loop import submissions

    ctx = connect()
    comp = _competition(ctx, competition)
    subs = submissions.refresh(ctx, comp, download)
    if json_:
        as_json(subs)
    else:
        submissions_table(subs, f"{comp}: {len(subs)} submissions", source=True)


@app.command()
def merge(
    inputs: list[str] = typer.Argument(
        ...,
        help="Two or more runs (v21), merges (m2), teammates' runs (alice/v21), submissions (sub40012) or CSV files.",
    ),
    out: Optional[Path] = typer.Option(
        None, "-o", "--output", help="Where to write the merged CSV (it is also kept as .kr/merges/mK.csv)."
    ),
    method: str = typer.Option("mean", "--method", help="mean | weighted | rank | geo | power | vote."),
    weights: Optional[str] = typer.Option(None, "--weights", help="One weight per input, e.g. 0.6,0.4."),
    power: Optional[float] = typer.Option(None, "--power", help="K for --method power: (mean of x^K)^(1/K)."),
    id_column: Optional[str] = typer.Option(None, "--id", help="The id column (default: the first)."),
    json_: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Ensemble submissions: rows aligned on the id column, each target column combined, recorded as mK."""
    from kaggle_runner import config
    from kaggle_runner.ensembles.blend import parse_weights
    from kaggle_runner.loop import merging

    w = parse_weights(weights)
    try:
        ctx = project(owner_from_credentials=True)
    except config.ConfigError:
        ctx = None  # outside a project: plain files merge fine, there is just no ledger to record in
    info = merging.merge(ctx, inputs, out, method, w, power, id_column)
    if json_:
        as_json(info)
        return
    typer.echo(
        f"{info['id'] or 'merge'}: {method} of {' + '.join(info['sources'])} -> {info['output']} ({info['rows']} rows)"
    )
    for column, matrix in info["correlation"].items():
        correlation_table(column, info["sources"], matrix, method)
    for pair in info["near_copies"]:
        err(
            f"note: {pair['a']} and {pair['b']} agree at {pair['r']:.4f} on {pair['column']}; "
            "merging near-copies gains little"
        )
