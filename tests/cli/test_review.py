"""`kr ls` and `kr compare` as shims: the rows the library returns, as JSON and as tables a person reads, which keep
every number whole at 80 columns."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from kaggle_runner.cli import app, render
from kaggle_runner.ledger import reports
from kaggle_runner.project import Session
from kaggle_runner.team import view

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


def _compare_info(n: int) -> dict:
    return {
        "columns": [f"v{i}" for i in range(1, n + 1)],
        "params": {"lr": [1e-5 * (1 + i % 3) for i in range(n)], "sleep": [2] * n},
        "public": [0.76945 + i / 1e5 for i in range(n)],
        "metrics": {"validation.auc": [0.6217 + i / 1e4 for i in range(n)], "train.loss": [0.3] * n},
        "config": {},
    }


@pytest.mark.parametrize("runs", [3, 10, 183])
def test_compare_keeps_every_value_whole_at_80_columns(session: Session, monkeypatch, runs: int) -> None:
    """0.76945 was drawn as 0.76 over 945; 183 runs of a sweep printed only box-drawing characters."""
    info = _compare_info(runs)
    monkeypatch.setattr(view, "compare_targets", lambda ctx, targets: info)
    r = CliRunner().invoke(app, ["compare", "s2"], env={"COLUMNS": "80"})
    assert r.exit_code == 0 and max(len(line) for line in r.stdout.splitlines()) <= 80, r.stdout
    words = r.stdout.split()
    for values in [info["public"], info["metrics"]["validation.auc"], info["params"]["lr"]]:
        assert all(render.num(v, 6) in words or render.num(v) in words for v in values)
    assert ("v183" in words) is (runs == 183)
    rows_are_runs = runs > 3
    assert any(line.lstrip().startswith("v2 ") for line in r.stdout.splitlines()) is rows_are_runs


def test_compare_marks_the_rows_that_differ_and_diff_shows_only_those(session: Session, monkeypatch) -> None:
    monkeypatch.setattr(view, "compare_targets", lambda ctx, targets: _compare_info(2))
    lines = CliRunner().invoke(app, ["compare", "v1", "v2"], env={"COLUMNS": "80"}).stdout.splitlines()
    assert any(line.startswith("* param lr") for line in lines) and any(
        line.startswith("  param sleep") for line in lines
    )
    only = CliRunner().invoke(app, ["compare", "v1", "v2", "--diff"], env={"COLUMNS": "80"}).stdout
    assert "param lr" in only and "param sleep" not in only and "train.loss" not in only


def test_ls_at_80_columns_splits_no_number_and_says_what_it_left_out(session: Session, monkeypatch) -> None:
    rows = [replace(ROWS[0], message="aux loss /5 " * 8, params={"lr": 0.00012, "sleep": 2})] * 3
    monkeypatch.setattr(reports, "ls_rows", lambda ledger, kernel, metric, sort, sweep: rows)
    r = CliRunner().invoke(app, ["ls", "--params", "lr,sleep"], env={"COLUMNS": "80"})
    assert max(len(line) for line in r.stdout.splitlines()) <= 80
    assert "0.00012" in r.stdout.split() and "0.9393" in r.stdout.split() and "COMPLETE" in r.stdout.split()
    assert r.stderr == "(left out to fit 80 columns: kernel, accel, commit, date; --json has them)\n"
