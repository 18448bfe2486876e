"""`kr emulator init` and `kr emulator serve`, run as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import requests

KR = [sys.executable, "-m", "kaggle_runner.cli"]


def test_init_writes_credentials_and_a_competition(tmp_path: Path) -> None:
    r = subprocess.run([*KR, "emulator", "init", str(tmp_path / "st")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    creds = json.loads((tmp_path / "st" / "kaggle.json").read_text())
    assert creds["username"] == "testuser" and len(creds["key"]) == 32
    assert (tmp_path / "st" / "kaggle.json").stat().st_mode & 0o077 == 0
    data = tmp_path / "st" / "competitions" / "tiny-toxic" / "data"
    assert sorted(p.name for p in data.iterdir()) == ["sample_submission.csv", "test.csv", "train.csv"]
    again = subprocess.run([*KR, "emulator", "init", str(tmp_path / "st")], capture_output=True, text=True, timeout=60)
    assert again.returncode != 0
    assert again.stderr.strip().count("\n") == 0 and "already holds an emulator state" in again.stderr
    assert "Traceback" not in again.stderr


def test_serve_on_port_zero_prints_its_url_first_and_stops_cleanly(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*KR, "emulator", "serve", "--state", str(tmp_path / "st"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(f"{url}/_emulator/health", timeout=10).json()["ok"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    assert (tmp_path / "st" / "kaggle.json").exists()  # a missing state folder is initialised


def test_serve_refuses_a_bad_faults_file_in_one_line(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text('[{"route": "*", "fault": "teapot"}]')
    r = subprocess.run(
        [*KR, "emulator", "serve", "--state", str(tmp_path / "st"), "--port", "0", "--faults", str(faults)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "fault must be one of" in r.stderr and "Traceback" not in r.stderr


def test_serve_refuses_a_corrupt_state_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "st").mkdir()
    (tmp_path / "st" / "config.json").write_text("{broken")
    r = subprocess.run(
        [*KR, "emulator", "serve", "--state", str(tmp_path / "st"), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "config.json: not valid JSON" in r.stderr and "Traceback" not in r.stderr
