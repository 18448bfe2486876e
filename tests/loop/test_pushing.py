"""What a push records of the code: the commit, and whether what went up differs from it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from helpers import write_project
from kaggle_runner.loop.pushing import _git


def _commit(root: Path) -> None:
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "c"], cwd=root, check=True
    )


def test_only_code_that_goes_up_makes_a_run_dirty(tmp_path: Path) -> None:
    """A plot or a merge CSV written into the project marked every later run "uncommitted changes"."""
    root = write_project(tmp_path / "p", files={"k/main.py": "print(1)\n"}, git=True)
    _commit(root)
    sent = [root / "k" / "main.py", root / "k" / "utils.py"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
    (root / "curves.png").write_bytes(b"png")
    (root / "ensemble.csv").write_text("id,toxic\n")
    assert _git(root, sent) == (head, False)
    (root / "k" / "utils.py").write_text("X = 1\n")  # untracked, but it ships with the kernel
    assert _git(root, sent) == (head, True)
    _commit(root)
    (root / "k" / "main.py").write_text("print(2)\n")  # a tracked file changed
    assert _git(root, sent)[1] is True
