"""The ledger: version addressing, migrations, and writers in two processes at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kaggle_runner.ledger.db import MIGRATIONS, LedgerError, open_ledger


def _pushed(ledger, kernel: str, version: int) -> int:
    rid = ledger.begin_push(kernel, f"testuser/{kernel}", "cpu", "", f"{kernel} v{version}", None, False, {}, {})
    ledger.finish_push(rid, version)
    return rid


def test_version_addressing(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    _pushed(ledger, "main", 1)
    _pushed(ledger, "main", 2)
    _pushed(ledger, "other", 7)
    assert ledger.resolve("v1", "main").message == "main v1"
    assert ledger.resolve("latest", "main").version == 2
    assert ledger.resolve("other:v7", "main").kernel == "other"
    assert ledger.resolve("other:latest", "main").version == 7
    with pytest.raises(LedgerError, match=r"no run v9 of kernel 'main' in the ledger \(known: v1, v2\)"):
        ledger.resolve("v9", "main")
    with pytest.raises(LedgerError, match="use v23, KERNEL:v23 or latest"):
        ledger.resolve("version-3", "main")


def test_reopening_keeps_data_and_schema(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    _pushed(ledger, "main", 1)
    ledger.close()
    again = open_ledger(tmp_path)
    assert again.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert [r.version for r in again.runs()] == [1]


def test_a_corrupt_ledger_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / ".kr").mkdir()
    (tmp_path / ".kr" / "ledger.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(LedgerError, match="not a usable ledger"):
        open_ledger(tmp_path)


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom pathlib import Path\nfrom kaggle_runner.ledger.db import open_ledger\n"
        "l = open_ledger(Path(sys.argv[1]))\n"
        "for i in range(100):\n"
        "    rid = l.begin_push(sys.argv[2], 'u/' + sys.argv[2], 'cpu', '', '', None, False, {}, {})\n"
        "    l.finish_push(rid, i + 1)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), name]) for name in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    runs = open_ledger(tmp_path).runs()
    assert sorted((r.kernel, r.version) for r in runs) == sorted((k, i) for k in "ab" for i in range(1, 101))


def test_migration_from_the_first_schema_keeps_runs(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / ".kr" / "ledger.sqlite"
    path.parent.mkdir()
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + ";PRAGMA user_version=1;")
    db.execute(
        "INSERT INTO runs (kernel, ref, version, state, created) VALUES ('main', 'testuser/main', 4, 'pushed', 1.0)"
    )
    db.commit()
    db.close()
    ledger = open_ledger(tmp_path)
    run = ledger.resolve("v4", "main")
    ledger.record_metrics(run.id, [{"name": "auc", "value": 0.5, "split": "validation", "line": 3}])
    assert ledger.metrics(run.id) == [{"name": "auc", "split": "validation", "value": 0.5, "line": 3}]
    ledger.record_submission("comp", 7, run_id=run.id, status="PENDING")
    ledger.record_submission("comp", 7, status="COMPLETE", public_score="0.93600")
    (sub,) = ledger.submissions(run_id=run.id)
    assert (sub["status"], sub["public_score"]) == ("COMPLETE", "0.93600")  # an update keeps the link to the run


def test_a_status_asked_again_unchanged_is_no_change_for_the_team(tmp_path: Path) -> None:
    """Every `kr status` counted as a change, so with a team server in kr.yaml each one loaded MLflow's client and
    tried to send (4 s against an unreachable server) although nothing was new."""
    ledger = open_ledger(tmp_path)
    run_id = ledger.begin_push("main", "testuser/main", "cpu", "", "m", None, False, {}, {})
    ledger.finish_push(run_id, 1)
    ledger.set_status(run_id, "COMPLETE", None)
    ledger.close()
    again = open_ledger(tmp_path)
    again.set_status(run_id, "COMPLETE", None)
    assert not again.changed
    again.set_status(run_id, "ERROR", "OOM")
    assert again.changed and again.run_by_id(run_id).failure == "OOM"
