"""End to end, a TPU session in the emulator: `kr emulator env --stack tpu` builds Kaggle's TPU stack for the kernels,
and `kr push --accel tpu --wait` of the smoke kernel trains on XLA, its compile line read back by `kr show`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FAST

from helpers import KR, write_project
from kaggle_runner.emulator.kernel_env import python_of
from kaggle_runner.emulator.seed import init_state

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(900)  # the stack's build alone may take its 900 s: pip lays out 7 GB, more on a slow disk
def test_a_tpu_push_trains_on_xla_and_kr_show_has_its_compilations(
    tmp_path: Path, make_emulator: Callable, make_kr: Callable
) -> None:
    state = tmp_path / "state"
    init_state(state, FAST)
    built = subprocess.run(
        [*KR, "emulator", "env", "--stack", "tpu", "--state", str(state)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    assert "--accel tpu sessions run on XLA's CPU device" in built.stdout
    try:
        _push_to_a_tpu(state, tmp_path, make_emulator, make_kr)
    finally:  # 7 GB: pytest keeps its last runs' folders
        shutil.rmtree(state / "python", ignore_errors=True)


def _push_to_a_tpu(state: Path, tmp_path: Path, make_emulator: Callable, make_kr: Callable) -> None:
    emulator = make_emulator(state, python=str(python_of(state)))

    smoke = {"smoke": {"folder": "kernels/smoke"}}
    project = write_project(tmp_path / "proj", kernels=smoke, copy=("kernels/smoke",), code={})
    kr = make_kr(project, emulator)
    kr("push", "--accel", "tpu", "-m", "on XLA", "--wait")
    assert "COMPLETE" in kr("status", "v1", "--json").stdout
    logs = kr("logs", "v1")
    log = logs.stdout + logs.stderr  # the runtime's line is on the kernel's stderr
    assert "kr runtime: on XLA (CPU, torch_xla 2.8" in log and "trained on tpu x1" in log
    assert "requires jax/pallas" not in log  # Kaggle's TPU image has jax, and so has the stack
    shown = kr("show", "v1").stdout
    assert "xla.compilations" in shown and "xla.compile_seconds" in shown
    assert json.loads(kr("submit", "v1", "--wait", "--json").stdout)["status"] == "COMPLETE"


def test_without_the_tpu_stack_a_tpu_session_fails_and_says_how_to_get_it(
    make_emulator: Callable, make_kr: Callable, tmp_path: Path
) -> None:
    venv = tmp_path / "plain"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    emulator = make_emulator(python=str(venv / "bin" / "python"))
    smoke = {"smoke": {"folder": "kernels/smoke"}}
    project = write_project(tmp_path / "proj", kernels=smoke, copy=("kernels/smoke",), code={})
    kr = make_kr(project, emulator)
    kr("push", "--accel", "tpu", "--wait", check=None)
    status = kr("status", "v1", "--json", check=None).stdout
    assert "kr emulator env --stack tpu" in status and "ERROR" in status
