"""Which tracking server a project uses (kr.yaml, then MLflow's variables; the competition as the experiment),
and log-batch requests that stay within MLflow's per-request limits however much a run holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers import write_project
from kaggle_runner.config import load
from kaggle_runner.team import tracking


def _cfg(tmp_path: Path, **extra: Any) -> object:
    write_project(tmp_path, kernels={"main": {"folder": "k"}}, files={"k/main.py": "print(1)\n"}, **extra)
    return load(tmp_path)


def test_no_server_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = _cfg(tmp_path)
    assert tracking.server_for(cfg) is None
    with pytest.raises(tracking.TrackingError, match="add `tracking: {mlflow: http://HOST:5000}`"):
        tracking.required(cfg)


def test_kr_yaml_then_mlflow_variables_and_the_competition_as_experiment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://env:5000/")
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    assert tracking.server_for(_cfg(tmp_path / "a")) == tracking.Server("http://env:5000", "tiny-toxic")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "from-env")
    both = _cfg(tmp_path / "b", tracking={"mlflow": "http://yaml:5000", "experiment": "mine"})
    assert tracking.server_for(both) == tracking.Server("http://yaml:5000", "mine")
    assert tracking.server_for(_cfg(tmp_path / "c")).experiment == "from-env"


@pytest.mark.parametrize("params, tags, metrics", [(0, 0, 0), (3, 5, 100), (250, 130, 4321), (0, 0, 1000)])
def test_batches_stay_within_mlflows_limits_and_lose_nothing(params: int, tags: int, metrics: int) -> None:
    p, t, m = list(range(params)), list(range(tags)), list(range(metrics))
    chunks = list(tracking._chunks(p, t, m))
    for c in chunks:
        assert len(c["params"]) <= 100 and len(c["tags"]) <= 100 and len(c["metrics"]) <= 1000
        assert len(c["params"]) + len(c["tags"]) + len(c["metrics"]) <= 1000
    assert [x for c in chunks for x in c["params"]] == p
    assert [x for c in chunks for x in c["tags"]] == t
    assert [x for c in chunks for x in c["metrics"]] == m
    # as few requests as the limits allow
    assert len(chunks) == max(-(-params // 100), -(-tags // 100), -(-(params + tags + metrics) // 1000))
