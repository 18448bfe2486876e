"""End to end, third-party packages for an internet-off kernel: code.requirements resolved for Kaggle's platform,
uploaded as a wheels dataset when the resolved set changes, installed offline by the bootstrap."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import write_project

pytestmark = pytest.mark.slow


def test_an_internet_off_kernel_imports_a_requirement_the_kernels_python_lacks(
    tmp_path: Path, emulator, make_kr, pip_index: dict[str, str]
) -> None:
    kernels = {"main": {"folder": "k", "title": "Main Kernel", "internet": False}}
    files = {"k/main.py": "from krdemo_greet import hello\nprint(hello())\n"}
    project = write_project(tmp_path / "p", kernels=kernels, files=files, code={"requirements": ["krdemo-greet"]})
    kr = make_kr(project, emulator)
    out = kr("push", "--wait", env=pip_index)
    assert "2 wheels for Kaggle: krdemo_greet-1.0-py3-none-any.whl, krdemo_words-2.0-py3-none-any.whl" in out.stderr
    assert "hello from a wheel" in kr("logs", "v1").stdout
    assert emulator.store.state["kernels"]["testuser/main"]["versions"][0]["internet"] is False

    before = len(emulator.requests)
    again = kr("push", "--wait", env={"PIP_INDEX_URL": "http://127.0.0.1:9/unreachable"})  # no pip this time
    assert "dataset testuser/main-code-wheels: unchanged (v1), nothing to upload" in again.stderr
    assert not any(q["route"].startswith("blobs") for q in emulator.requests[before:])  # 0 bytes went up
    assert "hello from a wheel" in kr("logs", "v2").stdout
