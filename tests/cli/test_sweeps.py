"""`kr quota` and `kr sweep` as shims: quota.read's hours as a table and as JSON, and a sweep's live table."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from typer.testing import CliRunner

from kaggle_runner.cli import app
from kaggle_runner.loop import quota, sweeps
from kaggle_runner.project import Session

WEEK = quota.Quota(
    gpu=quota.Meter(used=3600, reserved=1800, allowed=30 * 3600, mean_run=7200),
    tpu=quota.Meter(used=0, reserved=0, allowed=20 * 3600, mean_run=None),
    refresh=None,
    running={"gpu": ["main v3"], "tpu": [], "cpu": []},
)


def test_quota_shows_hours_left_and_the_runs_that_fit(session: Session, monkeypatch) -> None:
    monkeypatch.setattr(quota, "read", lambda ctx, sample=None: WEEK)
    r = CliRunner().invoke(app, ["quota"])
    assert r.exit_code == 0, r.output
    gpu = next(line for line in r.stdout.splitlines() if line.strip().startswith("GPU"))
    assert "1.00 h" in gpu and "30.00 h" in gpu and "28.50 h" in gpu and " 14 " in gpu and "main v3" in gpu
    assert "1 of 2" in gpu  # kr's sessions of Kaggle's GPU cap
    assert "refreshes at a time Kaggle did not say" in r.stdout


def test_quota_says_when_it_refreshes_as_a_time_from_now(session: Session, monkeypatch) -> None:
    import datetime as dt

    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=5, hours=8, minutes=30)).replace(tzinfo=None)
    monkeypatch.setattr(quota, "read", lambda ctx, sample=None: replace(WEEK, refresh=soon))
    r = CliRunner().invoke(app, ["quota"])
    assert f"refreshes in 5 d 8 h ({soon:%Y-%m-%d %H:%M} UTC)" in r.stdout


def test_quota_json_is_the_library_quota_in_hours(session: Session, monkeypatch) -> None:
    monkeypatch.setattr(quota, "read", lambda ctx, sample=None: WEEK)
    out = json.loads(CliRunner().invoke(app, ["quota", "--json"]).stdout)
    assert out["gpu"] == {
        "used": 1.0,
        "reserved": 0.5,
        "allowed": 30.0,
        "left": 28.5,
        "mean_run": 2.0,
        "runs_that_fit": 14,
    }
    assert out["tpu"]["runs_that_fit"] is None and out["running"]["gpu"] == ["main v3"]


def test_a_sweep_on_a_terminal_is_one_live_table_without_the_chatter_of_each_push(session, monkeypatch) -> None:
    """`kr sweep` scrolled ~5 lines per point ("dataset unchanged", "downloading X") instead of a live table."""
    from kaggle_runner.cli import sweeps as cli_sweeps

    def start(ctx: Any, axes: list[str], *args: Any) -> dict[str, Any]:
        say, on_tick = args[-2], args[-1]
        assert on_tick is not None
        say("dataset testuser/bits: unchanged (v1), nothing to upload")
        say("s1: pushed main v1 lr=0.1 (1 to go)")
        row = {"point": 1, "params": "lr=0.1", "run": "v1", "status": "COMPLETE", "elapsed": 65.0}
        on_tick(
            [
                {**row, "metric": "validation.auc 0.93"},
                {
                    **row,
                    "point": 2,
                    "params": "lr=0.2",
                    "run": "",
                    "status": "waiting",
                    "elapsed": None,
                    "metric": None,
                },
            ]
        )
        return {"sweep": "s1", "points": 2, "runs": [{"status": "COMPLETE"}], "held": None}

    monkeypatch.setattr(sweeps, "start", start)
    monkeypatch.setattr(cli_sweeps, "showing_progress", lambda: True)
    r = CliRunner().invoke(app, ["sweep", "lr=0.1,0.2"])
    assert r.exit_code == 0, r.output
    assert "s1: pushed main v1 lr=0.1 (1 to go)" in r.stderr and "unchanged" not in r.stderr
    lines = r.stderr.splitlines()
    assert any(all(x in line for x in ("lr=0.1", "v1", "COMPLETE", "1:05", "validation.auc 0.93")) for line in lines)
    assert any("lr=0.2" in line and "waiting" in line for line in lines)
    assert "s1: 1 of 2 points COMPLETE" in r.stdout
