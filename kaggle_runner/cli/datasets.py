"""`kr datasets push|ls`: dataset specs (datasets/NAME/dataset.yaml or kr.yaml datasets:) as Kaggle datasets.
Calls pushing.push_dataset and pushing.dataset_specs and renders what they return."""

from __future__ import annotations

import typer

from kaggle_runner.cli.app import app, connect, project
from kaggle_runner.cli.render import as_json, err, table

datasets_app = typer.Typer(
    help="Dataset specs (datasets/NAME/dataset.yaml or kr.yaml datasets:) as Kaggle datasets.", no_args_is_help=True
)
app.add_typer(datasets_app, name="datasets")


@datasets_app.command("push")
def push(
    name: str = typer.Argument(..., help="The spec's name: datasets/NAME/ or a kr.yaml datasets: key."),
    json_: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Run the spec's prepare step, upload its files as a new dataset version if they changed, wait until READY."""
    from kaggle_runner.loop import pushing

    out = pushing.push_dataset(connect(), name, err)
    if json_:
        as_json(out)
    else:
        typer.echo(f"{out['ref']} v{out['version']} {'uploaded' if out['uploaded'] else 'unchanged'}")


@datasets_app.command("ls")
def ls_(json_: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """The project's dataset specs and the version of each that kr last uploaded."""
    from kaggle_runner.loop import pushing

    rows = pushing.dataset_specs(project(owner_from_credentials=True))
    if json_:
        as_json(rows)
        return
    table(
        None,
        ["name", "dataset", "spec", "paths", "prepare", "version"],
        [
            [
                r["name"],
                r["ref"],
                r["spec"],
                " ".join(r["paths"]),
                r["prepare"] or "",
                f"v{r['version']}" if r["version"] else "never pushed",
            ]
            for r in rows
        ],
    )
