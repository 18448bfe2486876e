"""The command line's own part: every command documented (help text and a README entry), and rendering (tables,
numbers, durations) as a user sees it in a terminal or a pipe. Commands run in-process through typer's runner."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from helpers import ROOT, write_project
from kaggle_runner.cli import app, render

README = (ROOT / "README.md").read_text()


def _commands(group: object = None, prefix: str = "kr") -> list[tuple[str, object]]:
    group = group or typer.main.get_command(app)
    out = []
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        out.append((f"{prefix} {name}", cmd))
        if hasattr(cmd, "commands"):
            out += _commands(cmd, f"{prefix} {name}")
    return out


@pytest.mark.parametrize("name, cmd", _commands(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_has_help_text_and_a_readme_entry(name: str, cmd: object) -> None:
    assert (cmd.help or "").strip(), f"{name} has no help text"  # type: ignore[attr-defined]
    assert f"`{name}" in README or f"{name} " in README, f"the README never shows `{name}`"
    for param in cmd.params:  # type: ignore[attr-defined]
        if param.param_type_name == "option" and param.name != "help":
            assert param.help, f"{name} {param.opts[0]} has no help text"


def test_help_lists_the_loop_in_order() -> None:
    group = typer.main.get_command(app)
    names = group.list_commands(typer.Context(group))  # the order `kr --help` shows
    assert names[:8] == ["init", "push", "status", "wait", "cancel", "logs", "pull", "metrics"]
    assert CliRunner().invoke(app, ["--help"]).exit_code == 0


def test_version_and_shell_completion() -> None:
    from importlib.metadata import version

    assert CliRunner().invoke(app, ["--version"]).stdout == f"kr {version('kaggle-runner')}\n"
    kr = Path(sys.executable).parent / "kr"  # the console script a user's shell completes
    script = subprocess.run([kr, "--show-completion", "bash"], capture_output=True, text=True, timeout=60).stdout
    assert "complete -o default -F _kr_completion kr" in script


@pytest.mark.parametrize(
    "seconds, text", [(None, ""), (0, "0:00"), (59.9, "0:59"), (61, "1:01"), (3600, "1:00:00"), (3723, "1:02:03")]
)
def test_durations(seconds: float | None, text: str) -> None:
    assert render.duration(seconds) == text


def test_numbers_keep_significant_digits_and_leave_blanks() -> None:
    assert render.num(0.936012345) == "0.93601" and render.num(0.936012345, 3) == "0.936"
    assert render.num(None) == "" and render.num(3) == "3" and render.num("v2") == "v2"


def test_a_piped_table_is_not_folded_at_80_columns(capsys: pytest.CaptureFixture[str]) -> None:
    message = "aux loss /5, smoothing 0.05, 3 epochs, lr 1e-5 x 8 cores, max_len 192, xlm-roberta-large, fold 0"
    render.table(None, ["id", "public", "message"], [["v22", render.num(0.9360), message]], right=("public",))
    lines = capsys.readouterr().out.splitlines()
    assert any(message in line and "v22" in line and "0.936" in line for line in lines), lines


def test_notes_in_brackets_are_shown_not_taken_for_markup(capsys: pytest.CaptureFixture[str]) -> None:
    # kr ls shows a run's notes as `message  [note]`; rich would read [note] as a style and drop it
    render.table(None, ["id", "message"], [["v3", "lr 2e-2  [higher lr, same AUC]  [bold]"]])
    assert "lr 2e-2  [higher lr, same AUC]  [bold]" in capsys.readouterr().out


def test_json_output_is_one_document(capsys: pytest.CaptureFixture[str]) -> None:
    render.as_json({"id": "v1", "public": 0.9, "when": Path("x")})
    assert json.loads(capsys.readouterr().out) == {"id": "v1", "public": 0.9, "when": "x"}


def test_ls_in_a_new_project_is_empty_and_outside_one_is_one_line(tmp_path: Path, monkeypatch) -> None:
    write_project(tmp_path, competition=None)
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["ls", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout) == []
    monkeypatch.chdir(tmp_path / "k")  # kr finds kr.yaml upwards, like git
    assert CliRunner().invoke(app, ["ls", "--json"]).exit_code == 0
    elsewhere = tmp_path.parent / f"{tmp_path.name}-empty"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    r = CliRunner().invoke(app, ["ls"])
    assert r.exit_code != 0 and "no kr.yaml here or above" in str(r.exception)


def _main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """`kr ARGS` through main(), as the console script runs it: its exit code."""
    import sys

    from kaggle_runner.cli import main

    monkeypatch.setattr(sys, "argv", ["kr", *args])
    with pytest.raises(SystemExit) as e:
        main()
    return int(e.value.code or 0)


def test_the_team_hears_once_of_a_command_that_changed_the_ledger_and_never_of_one_that_did_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kaggle_runner.ledger.db import open_ledger
    from kaggle_runner.team import syncing

    write_project(tmp_path, tracking={"mlflow": "http://127.0.0.1:9", "experiment": "team"})  # never reached
    ledger = open_ledger(tmp_path)
    ledger.finish_push(ledger.begin_push("main", "testuser/main", "gpu", "", "one", None, False, {}, {}, {}), 1)
    shared: list[object] = []
    monkeypatch.setattr(syncing, "send_quietly", lambda ctx, warn: shared.append(ctx))
    monkeypatch.chdir(tmp_path)
    assert _main(monkeypatch, "ls") == 0 and shared == []
    assert _main(monkeypatch, "note", "v1", "smoothing helps") == 0 and len(shared) == 1
    assert _main(monkeypatch, "show", "v1", "--json") == 0 and len(shared) == 1
    assert _main(monkeypatch, "note", "v9", "no such run") != 0 and len(shared) == 1
    (tmp_path / "kr.yaml").write_text((tmp_path / "kr.yaml").read_text().split("tracking:")[0])
    assert _main(monkeypatch, "note", "v1", "no team") == 0 and len(shared) == 1  # no team: nothing is sent


def test_a_full_disk_is_told_by_sqlites_code_not_its_words(tmp_path: Path) -> None:
    import sqlite3

    from kaggle_runner.cli.app import _disk_full

    db = sqlite3.connect(tmp_path / "small.sqlite")
    db.execute("CREATE TABLE t (x BLOB)")
    db.execute("PRAGMA max_page_count = 3")  # a disk that is full after three pages
    with pytest.raises(sqlite3.Error) as full:
        for _ in range(10):
            db.execute("INSERT INTO t VALUES (zeroblob(4096))")
    assert _disk_full(full.value)
    assert not _disk_full(sqlite3.OperationalError("database or disk is full"))  # the words alone, from elsewhere
    assert not _disk_full(sqlite3.OperationalError("database is locked"))


def test_error_is_red_and_the_best_score_bold_on_a_terminal_only(capsys, monkeypatch) -> None:
    rows = [[1, "COMPLETE", "0.91"], [2, "ERROR (OOM)", ""], [3, "COMPLETE", "0.93"]]
    render.table(None, ["id", "status", "public"], rows, right=("public",), best=("public",))
    piped = capsys.readouterr().out
    assert "\x1b[" not in piped and "0.93" in piped  # piped: plain text
    monkeypatch.setenv("FORCE_COLOR", "1")
    render.table(None, ["id", "status", "public"], rows, right=("public",), best=("public",))
    shown = capsys.readouterr().out
    assert "\x1b[31mERROR (OOM)" in shown
    assert re.search(r"\x1b\[1;32m *0\.93", shown) and not re.search(r"\x1b\[1;32m *0\.91", shown)
