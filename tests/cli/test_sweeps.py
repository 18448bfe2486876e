"""`kr quota` as a shim: it renders what quota.read returns, in hours, as a table and as JSON."""

from __future__ import annotations

import json
from dataclasses import replace

from typer.testing import CliRunner

from kaggle_runner.cli import app
from kaggle_runner.loop import quota
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
