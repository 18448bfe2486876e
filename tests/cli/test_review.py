"""`kr ls` as a shim: the rows reports.ls_rows returns, as JSON and as a table a person reads."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from kaggle_runner.cli import app
from kaggle_runner.ledger import reports
from kaggle_runner.project import Session

ROWS = [
    reports.Row(
        id="v3",
        kind="run",
        status="COMPLETE",
        message="aux loss /5",
        created=1.0,
        kernel="main",
        accelerator="tpu",
        duration=3725.0,
        metric_name="validation.auc",
        metric=0.9393,
        public=0.9401,
        git_commit="0123456789",
        git_dirty=True,
        notes=["best so far"],
    ),
    reports.Row(id="m1", kind="merge", status="MERGED", message="mean(v2 + v3)", created=2.0, public=0.9412),
]


def test_ls_json_is_the_rows_as_json(session: Session, monkeypatch) -> None:
    monkeypatch.setattr(reports, "ls_rows", lambda ledger, kernel, metric, sort, sweep: ROWS)
    out = json.loads(CliRunner().invoke(app, ["ls", "--json"]).stdout)
    assert out == [r.as_json() for r in ROWS] and "user" not in out[0]


def test_ls_table_shows_the_headline_metric_the_score_and_the_commit(session: Session, monkeypatch) -> None:
    asked = {}

    def ls_rows(ledger: object, kernel: str, metric: object, sort: str, sweep: object) -> list[reports.Row]:
        asked.update(sort=sort, sweep=sweep)
        return ROWS

    monkeypatch.setattr(reports, "ls_rows", ls_rows)
    r = CliRunner().invoke(app, ["ls", "--sort", "public", "--sweep", "s1"])
    assert r.exit_code == 0 and asked == {"sort": "public", "sweep": "s1"}, r.output
    v3 = next(line for line in r.stdout.splitlines() if line.strip().startswith("v3"))
    assert "1:02:05" in v3 and "0.9393" in v3 and "0.9401" in v3 and "0123456*" in v3 and "[best so far]" in v3
    assert "validation.auc" in r.stdout.splitlines()[0]  # one metric: it names the column
