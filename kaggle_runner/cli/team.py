"""`kr sync`: the ledger's runs, merges, metrics, scores and files sent to the team's MLflow server.
It calls syncing.sync and renders what it returns (other commands share their part through app.share)."""

from __future__ import annotations

import typer

from kaggle_runner.cli.app import app, project
from kaggle_runner.cli.render import as_json, spinner
from kaggle_runner.errors import UserError


@app.command()
def sync(json_: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """Send every run, merge, metric series, score and file not yet on the team's MLflow server (kr.yaml tracking:)."""
    from kaggle_runner.team import syncing, tracking

    ctx = project(owner_from_credentials=True)
    try:
        with spinner("sync: connecting") as live:
            info = syncing.sync(ctx, lambda line: live.update(f"sync: {line}"))
    except tracking.TrackingUnavailable as e:
        raise UserError(f"{e}; what was sent is recorded, and `kr sync` sends the rest once it answers") from e
    for line in info["skipped"]:
        typer.echo(f"kr: warning: not sent: {line}; the next `kr sync` tries again", err=True)
    if json_:
        as_json(info)
        return
    typer.echo(
        f"sent {info['sent']} of {info['items']} runs and merges ({info['unchanged']} unchanged, "
        f"{info['requests']} requests) to experiment '{info['experiment']}': {info['url']}"
    )
