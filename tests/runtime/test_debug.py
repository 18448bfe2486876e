"""may_debug(): a debugger only with KR_DEBUG set and a terminal attached; otherwise it returns at once."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = "from kaggle_runner.runtime.debug import may_debug\nx = 41\nprint('opened', may_debug())\nprint('after')\n"


def run_in_terminal(tmp_path: Path, env: dict[str, str], answer: bytes) -> str:
    (tmp_path / "s.py").write_text(SCRIPT)
    leader, follower = pty.openpty()
    p = subprocess.Popen(
        [sys.executable, "s.py"], cwd=tmp_path, stdin=follower, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    seen, deadline, answered = b"", time.time() + 60, False
    while time.time() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            if b"(Pdb)" in seen and not answered:
                os.write(leader, answer)
                answered = True
        elif p.poll() is not None:
            break
    p.wait(timeout=30)
    os.close(leader)
    return seen.decode(errors="replace")


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "KR_DEBUG"}


def test_opens_pdb_in_the_callers_frame_with_a_terminal(tmp_path: Path) -> None:
    out = run_in_terminal(tmp_path, {**base_env(), "KR_DEBUG": "1"}, b"p x + 1\nc\n")
    assert "(Pdb)" in out and "42" in out and "opened True" in out and "after" in out


def test_no_debugger_without_kr_debug(tmp_path: Path) -> None:
    out = run_in_terminal(tmp_path, base_env(), b"c\n")
    assert "(Pdb)" not in out and "opened False" in out


def test_no_debugger_without_a_terminal(tmp_path: Path) -> None:
    """As on Kaggle and in the emulator: stdin and stdout are not terminals, so the kernel never blocks."""
    (tmp_path / "s.py").write_text(SCRIPT)
    r = subprocess.run(
        [sys.executable, "s.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**base_env(), "KR_DEBUG": "1"},
    )
    assert r.returncode == 0 and r.stdout == "opened False\nafter\n"
