"""The kernels' Python of `kr emulator env` is Kaggle's image: its `pip freeze` holds every pin of kernel_env's list,
and public kernels' pandas idioms compute what they compute on Kaggle. In `make test-xla`, the leg of Kaggle's stacks
(a few GB to build, as the TPU stack is)."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import KR
from kaggle_runner.emulator.kernel_env import KAGGLE_IMAGE, python_of


def freeze(python: Path) -> dict[str, str]:
    """name -> version as pip reports them, names normalised (lower case, '-' for '_')."""
    out = subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True).stdout
    pairs = (line.split("==", 1) for line in out.splitlines() if "==" in line)
    return {name.lower().replace("_", "-"): version for name, version in pairs}


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    """A state folder whose kernels' Python (a few GB) goes when the test ends: pytest keeps its last runs' folders."""
    yield tmp_path
    shutil.rmtree(tmp_path / "python", ignore_errors=True)


def test_the_env_is_kaggles_image_and_public_kernels_compute_as_there(state: Path) -> None:
    built = subprocess.run(
        [*KR, "emulator", "env", "--state", str(state)],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    python = python_of(state)
    installed = freeze(python)
    for name, version in KAGGLE_IMAGE.items():
        assert installed.get(name, "").split("+")[0] == version, (name, installed.get(name))
    # the idioms that silently computed something else under pandas 3 (copy-on-write, the string dtype)
    kernel = textwrap.dedent("""
        import pandas as pd, sklearn, xgboost
        df = pd.DataFrame({"Age": [22.0, None, 30.0], "Name": ["a", "b", "c"]})
        df["Age"].fillna(df["Age"].median(), inplace=True)
        text = [c for c in df.columns if df[c].dtype == "object"]
        print(df["Age"].isna().sum(), text, pd.__version__, sklearn.__version__, xgboost.__version__)
    """)
    r = subprocess.run([str(python), "-W", "ignore", "-c", kernel], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "['Name']", "2.2.2", "1.6.1", "3.2.0"]
