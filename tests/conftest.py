"""Shared fixtures: a fresh emulator per test (real HTTP on a free port), clients that talk to it, and `kr` run as a
subprocess in a project folder, as a user runs it."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import Api, Kr, creds, local_index, start_mlflow, stop_mlflow
from kaggle_runner.emulator import Emulator
from kaggle_runner.emulator.seed import init_state

# tests/xla/ runs in .venv-xla (`make test-xla`, which .ci/run runs after `make test`): torch_xla cannot sit beside
# the main venv's torch, so only a Python that has it collects them.
collect_ignore = [] if importlib.util.find_spec("torch_xla") else ["xla"]
FAST = {"dataset_ready_seconds": 0.3, "scoring_seconds": 0.05}
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def _unset_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest-xdist's workers export COLUMNS=80, which kr honours; a test about width sets COLUMNS itself."""
    monkeypatch.delenv("COLUMNS", raising=False)


@pytest.fixture
def make_emulator(tmp_path: Path) -> Callable[..., Emulator]:
    started: list[Emulator] = []

    def make(state: Path | None = None, settings: dict[str, Any] | None = None, **kw: Any) -> Emulator:
        state = state or tmp_path / "state"
        if not (state / "config.json").exists():
            init_state(state, {**FAST, **(settings or {})})
        em = Emulator(state, **kw).start()
        started.append(em)
        return em

    yield make
    for em in started:
        em.stop()


@pytest.fixture
def emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    return make_emulator()


@pytest.fixture
def api(emulator: Emulator) -> Api:
    c = creds(emulator)
    return Api(emulator.url, c["username"], c["key"])


@pytest.fixture
def kaggle(emulator: Emulator, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """Run the official `kaggle` CLI, unmodified, with the emulator as its HTTP proxy (docs/wire-protocol.md §1.6)."""
    home = tmp_path / "home"
    (home / ".kaggle").mkdir(parents=True)
    (home / ".kaggle" / "kaggle.json").write_text(json.dumps(creds(emulator)))
    (home / ".kaggle" / "kaggle.json").chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE_") and "PROXY" not in k.upper()}
    env.update(HOME=str(home), KAGGLE_API_ENVIRONMENT="LOCALHOST", HTTP_PROXY=emulator.url, TMPDIR=str(tmp_path))

    def run(*args: str, cwd: Path = tmp_path, check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run(
            [str(VENV_BIN / "kaggle"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
        )
        if check:
            assert r.returncode == 0, f"kaggle {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    return run


@pytest.fixture
def make_kr(tmp_path: Path) -> Callable[..., Kr]:
    def make(project: Path, emulator: Emulator | None = None) -> Kr:
        return Kr(project, tmp_path / "home", emulator)

    return make


@pytest.fixture(scope="session")
def pip_index(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """pip's environment for a local index of small wheels (helpers.local_index), built once per test process."""
    return local_index(tmp_path_factory.mktemp("pip-index"))


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `mlflow server`, one per test process; tests keep apart by experiment name."""
    server, url = start_mlflow(tmp_path_factory.mktemp("mlflow"))
    yield url
    stop_mlflow(server)
