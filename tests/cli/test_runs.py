"""The run-loop commands as shims: push, wait and cancel hand their parsed options to the library and render what
comes back; the library functions are patched, so no Kaggle is involved."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from kaggle_runner.cli import app
from kaggle_runner.loop import pushing, watching
from kaggle_runner.project import Session

RUN = SimpleNamespace(
    id=1, kernel="main", version=7, accelerator="gpu", ref="testuser/main", label="v7", status="RUNNING"
)


def test_push_hands_its_options_to_the_library_and_names_the_version(session: Session, monkeypatch) -> None:
    seen: dict[str, Any] = {}

    def push(ctx: Session, kernel: str | None, accel: str | None, message: str, say: Any, **kw: Any) -> Any:
        seen.update(ctx=ctx, kernel=kernel, accel=accel, message=message, **kw)
        return RUN

    monkeypatch.setattr(pushing, "push", push)
    r = CliRunner().invoke(
        app, ["push", "--accel", "gpu", "-m", "aux loss /5", "--timeout", "600", "--set", "lr=2e-5", "--set-new"]
    )
    assert r.exit_code == 0, r.output
    assert seen["ctx"] is session and seen["accel"] == "gpu" and seen["message"] == "aux loss /5"
    assert seen["timeout"] == 600 and seen["queue"] is False and seen["check"] is True
    assert "lr" in seen["params"] and float(seen["params"]["lr"]) == 2e-5
    assert "pushed main v7 (gpu) as https://www.kaggle.com/code/testuser/main" in r.stdout


def test_wait_follows_one_run_alone_and_says_where_its_outputs_are(session: Session, monkeypatch) -> None:
    folder = session.cfg.root / ".kr" / "runs" / "v7"
    monkeypatch.setattr(watching, "targets", lambda ctx, versions, running: [RUN])
    done = watching.Waited("COMPLETE", 0, folder=folder, metric="validation.auc 0.93")
    monkeypatch.setattr(watching, "wait", lambda ctx, run, tick, say: done)
    r = CliRunner().invoke(app, ["wait", "v7"])
    assert r.exit_code == 0 and "main v7: COMPLETE (validation.auc 0.93); outputs in .kr/runs/v7" in r.stdout, r.output


def test_a_failed_run_exits_1_with_the_tail_of_its_log(session: Session, monkeypatch) -> None:
    failed = watching.Waited("ERROR", 1, failure="OOM", log_tail=["Traceback", "RuntimeError: CUDA out of memory"])
    monkeypatch.setattr(watching, "targets", lambda ctx, versions, running: [RUN])
    monkeypatch.setattr(watching, "wait", lambda ctx, run, tick, say: failed)
    r = CliRunner().invoke(app, ["wait"])
    assert r.exit_code == 1 and "main v7: ERROR: OOM" in r.output and "  | RuntimeError: CUDA out of memory" in r.output


@pytest.mark.parametrize("running", [False, True])
def test_wait_follows_several_runs_in_one_table(session: Session, monkeypatch, running: bool) -> None:
    runs = [RUN, SimpleNamespace(**{**vars(RUN), "id": 2, "version": 8, "label": "v8"})]
    asked: dict[str, Any] = {}

    def targets(ctx: Session, versions: list[str] | None, running: bool) -> list[Any]:
        asked.update(versions=versions, running=running)
        return runs

    monkeypatch.setattr(watching, "targets", targets)

    def wait_many(ctx: Session, rs: list[Any], tick: Any, say: Any) -> int:
        failed = {"run": "main v8", "status": "ERROR", "elapsed": 65.0, "metric": None, "failure": "CUDA OOM"}
        tick(
            [
                {"run": "main v7", "status": "RUNNING", "elapsed": 3.0, "metric": "train.loss 0.4", "failure": None},
                failed,
            ]
        )
        return 3 if rs == runs else 99

    monkeypatch.setattr(watching, "wait_many", wait_many)
    r = CliRunner().invoke(app, ["wait", "--running"] if running else ["wait", "s1"], env={"COLUMNS": "100"})
    assert r.exit_code == 3 and asked["running"] is running, r.output  # 3: one of them was cancelled
    assert "ERROR: CUDA OOM" in r.stderr and "1:05" in r.stderr  # the reason shows in the live table
    if not running:
        assert asked["versions"] == ["s1"]


def test_cancel_json_is_what_the_library_returns(session: Session, monkeypatch) -> None:
    monkeypatch.setattr(session.ledger, "resolve", lambda text, default: RUN)
    monkeypatch.setattr(
        watching, "cancel", lambda ctx, run, say: watching.Cancelled("cancelled on request", "ERROR", "testuser")
    )
    out = json.loads(CliRunner().invoke(app, ["cancel", "v7", "--json"]).stdout)
    assert out == {
        "kernel": "main",
        "version": 7,
        "how": "cancelled on request",
        "status": "ERROR",
        "ended_by": "testuser",
    }


def test_wait_targets_name_runs_and_sweeps_or_every_running_run(session: Session) -> None:
    """The library side of `kr wait`: which runs it follows."""
    ledger = session.ledger
    ids = []
    for v in (1, 2, 3):
        rid = ledger.begin_push("main", "testuser/main", "gpu", "", f"try {v}", None, False, {}, {}, {})
        ledger.finish_push(rid, v)
        ids.append(rid)
    ledger.set_status(ids[0], "COMPLETE")
    assert [r.version for r in watching.targets(session, None)] == [3]  # latest by default
    assert [r.version for r in watching.targets(session, ["v1", "v2"])] == [1, 2]
    assert [r.version for r in watching.targets(session, None, running=True)] == [2, 3]


TQDM = [
    {"stream_name": "stdout", "data": "epoch 1\n"},
    {"stream_name": "stderr", "data": "\r  0%|          | 0/9"},
    {"stream_name": "stderr", "data": "\r 50%|#####     | 4/9"},
    {"stream_name": "stderr", "data": "\r100%|##########| 9/9\n"},
    {"stream_name": "stderr", "data": "Traceback (most recent call last):\nValueError: bad\n"},
    {"stream_name": "stdout", "data": "no newline at the end"},
]


def test_logs_write_both_streams_to_stdout_in_order_with_progress_bars_at_their_end(session: Session, monkeypatch):
    """`kr logs v7 > v7.log` keeps the traceback; a tqdm bar is its last state, not one 25 KB line."""
    monkeypatch.setattr(watching, "log_text", lambda ctx, run: (json.dumps(TQDM), TQDM))
    monkeypatch.setattr(watching, "status", lambda ctx, run: ("ERROR", "bad"))
    monkeypatch.setattr("kaggle_runner.cli.runs._resolve", lambda ctx, version: RUN)
    r = CliRunner().invoke(app, ["logs", "v7"])
    assert r.exit_code == 0 and r.stderr == "", r.output
    assert r.stdout == (
        "epoch 1\n100%|##########| 9/9\nTraceback (most recent call last):\nValueError: bad\nno newline at the end\n"
    )
    split = CliRunner().invoke(app, ["logs", "v7", "--stderr"])
    assert split.stdout == "epoch 1\nno newline at the end\n" and "ValueError: bad" in split.stderr


@pytest.mark.parametrize("follow", [False, True])
def test_logs_json_is_one_event_per_line_as_kaggle_holds_them(session: Session, monkeypatch, follow: bool) -> None:
    monkeypatch.setattr(watching, "log_text", lambda ctx, run: (json.dumps(TQDM), TQDM))
    monkeypatch.setattr(watching, "follow", lambda ctx, run: iter(TQDM))
    monkeypatch.setattr(watching, "ending", lambda ctx, run: ("COMPLETE", 0))
    monkeypatch.setattr("kaggle_runner.cli.runs._resolve", lambda ctx, version: RUN)
    r = CliRunner().invoke(app, ["logs", "v7", "--json", *(["-f"] if follow else [])])
    assert r.exit_code == 0, r.output
    assert [json.loads(line) for line in r.stdout.splitlines()] == TQDM  # carriage returns and all, unaltered


@pytest.mark.parametrize("state, code", [("COMPLETE", 0), ("ERROR", 1), ("CANCEL_ACKNOWLEDGED", 3)])
def test_logs_follow_exits_as_the_run_ended(session: Session, monkeypatch, state: str, code: int) -> None:
    """`kr logs -f latest && kr submit latest` must not submit a run that failed."""
    monkeypatch.setattr(watching, "follow", lambda ctx, run: iter(TQDM))
    monkeypatch.setattr(watching, "ending", lambda ctx, run: (state, code))
    monkeypatch.setattr("kaggle_runner.cli.runs._resolve", lambda ctx, version: RUN)
    r = CliRunner().invoke(app, ["logs", "v7", "-f"])
    assert r.exit_code == code and "ValueError: bad" in r.stdout
    assert (f"main v7: {state}" in r.stderr) is (code != 0)


def test_ctrl_c_while_waiting_says_the_run_goes_on_and_how_to_follow_it(session: Session, monkeypatch, capsys) -> None:
    import sys

    from kaggle_runner.cli import main

    def interrupted(*args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(watching, "targets", lambda ctx, versions, running: [RUN])
    monkeypatch.setattr(watching, "wait", interrupted)
    monkeypatch.setattr(sys, "argv", ["kr", "wait", "v7"])
    with pytest.raises(SystemExit) as e:
        main()
    assert e.value.code == 130
    assert capsys.readouterr().err == "kr: interrupted; main v7 goes on on Kaggle; `kr wait main:v7` follows it again\n"


def test_open_prints_the_kernels_page_where_there_is_no_browser(session: Session, monkeypatch) -> None:
    import webbrowser

    def no_browser() -> None:
        raise webbrowser.Error("could not locate runnable browser")

    monkeypatch.setattr("kaggle_runner.cli.runs._resolve", lambda ctx, version: RUN)
    monkeypatch.setattr(webbrowser, "get", no_browser)
    r = CliRunner().invoke(app, ["open", "v7"])
    assert r.exit_code == 0 and r.stdout == "https://www.kaggle.com/code/testuser/main (main v7: its Versions tab)\n"


def test_logs_of_a_run_that_failed_before_printing_anything_say_why_and_fail(session: Session, monkeypatch) -> None:
    """It printed nothing and exited 0."""
    monkeypatch.setattr("kaggle_runner.cli.runs._resolve", lambda ctx, version: RUN)
    monkeypatch.setattr(watching, "log_text", lambda ctx, run: ("[]", []))
    monkeypatch.setattr(watching, "status", lambda ctx, run: ("ERROR", "Dataset testuser/data has no READY version"))
    r = CliRunner().invoke(app, ["logs", "v7"])
    assert r.exit_code == 1
    assert r.stderr == "main v7 ended ERROR with an empty log: Dataset testuser/data has no READY version\n"
