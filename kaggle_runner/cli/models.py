"""`kr model publish`: a run's outputs as a new version of a Kaggle Model instance.
Calls publishing.publish and renders what it returns."""

from __future__ import annotations

from typing import Optional

import typer

from kaggle_runner.cli.app import app, connect
from kaggle_runner.cli.render import as_json, err

model_app = typer.Typer(
    help="Kaggle Models: publish a run's trained weights for inference kernels.", no_args_is_help=True
)
app.add_typer(model_app, name="model")


@model_app.command("publish")
def publish(
    target: str = typer.Argument(..., help="The run whose outputs go up: v3, train:v3, latest."),
    as_ref: str = typer.Option(..., "--as", help="owner/model/framework/variation, e.g. me/toxic/pytorch/fold-0."),
    files: Optional[list[str]] = typer.Option(
        None, "--files", help="Globs of the outputs to publish (repeatable); default every output."
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Publish a run's outputs as a new model instance version (the model and instance are made if missing).
    Files already published as a version of that instance make no new one. An inference kernel names it in
    kr.yaml's model_sources."""
    from kaggle_runner.loop import publishing

    out = publishing.publish(connect(), target, as_ref, files or [], err)
    if json_:
        as_json(out.as_json())
        return
    size = sum(f["size"] for f in out.files)
    what = f"{len(out.files)} file{'s' if len(out.files) != 1 else ''}, {size / 1e6:.1f} MB"
    if out.uploaded:
        typer.echo(f"{out.run}: published as {out.ref} v{out.version} ({what})")
    else:
        typer.echo(f"{out.run}: unchanged, already {out.ref} v{out.version} ({what}; nothing sent)")
