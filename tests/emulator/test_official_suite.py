"""Kaggle's own client suite, walked with the official CLI: the commands Kaggle/kaggle-cli's
`tests/backend/backend_tests.py` exercises against Kaggle's servers, in its order, run here against the emulator.
Written from that file's list of commands (nothing is fetched); where it reads Kaggle's catalogue (another user's
kernels, the most voted datasets, "house-prices"), this walk uses the user's own and the emulator's competition.
Left out, as README's "How faithful the emulator is" says: forums and competition topics (not served), and
`kernels_run`, an API method with no CLI command in 2.2.5 (push, status and output cover it)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": ["print(42)"]}],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def _edit(path: Path, **changes: Any) -> dict[str, Any]:
    data = {**json.loads(path.read_text()), **changes}
    path.write_text(json.dumps(data))
    return data


def _until(check: Any, what: str, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {seconds} s")


def test_the_backend_suites_commands_pass_against_the_emulator(kaggle, api, emulator, tmp_path: Path) -> None:
    failed: list[str] = []

    def run(*args: str, expect: str | None = None) -> str:
        r = kaggle(*args, cwd=tmp_path, check=False)
        out = r.stdout + r.stderr
        if r.returncode != 0 or (expect is not None and expect not in out):
            failed.append(f"kaggle {' '.join(args)} -> {r.returncode}: {out.strip()[-300:]}")
        return out

    # -- kernels
    kernel = tmp_path / "kernel"
    kernel.mkdir()
    run("kernels", "init", "-p", str(kernel), expect="Kernel metadata template written")
    assert "machine_shape" in json.loads((kernel / "kernel-metadata.json").read_text())
    _edit(
        kernel / "kernel-metadata.json",
        id="testuser/testing-x",
        title="testing-x",
        code_file="testing-x.ipynb",
        language="python",
        kernel_type="notebook",
    )
    (kernel / "testing-x.ipynb").write_text(json.dumps(NOTEBOOK))
    run("kernels", "push", "-p", str(kernel), expect="Kernel version 1 successfully pushed")
    run("kernels", "list", "--user", "testuser", "--sort-by", "dateCreated", "--language", "python", "--csv")
    _until(lambda: api.status("testing-x").get("status") == "COMPLETE", "the kernel's completion")
    run("kernels", "status", "testuser/testing-x", expect="COMPLETE")
    run("kernels", "files", "testuser/testing-x")
    run("kernels", "output", "testuser/testing-x", "-p", str(kernel / "tmp"), expect="Kernel log downloaded")
    pulled = tmp_path / "pulled"
    run("kernels", "pull", "testuser/testing-x", "-p", str(pulled), "-m")
    metadata = json.loads((pulled / "kernel-metadata.json").read_text())
    for name in ("id", "id_no", "title", "code_file", "language", "kernel_type"):
        assert metadata.get(name), name
    for name in ("is_private", "enable_gpu", "enable_tpu", "enable_internet", "keywords", "model_sources"):
        assert metadata.get(name) is not None, name

    # -- competitions
    run("competitions", "list", "--group", "general", expect="tiny-toxic")
    run("competitions", "list", "--page", "2", "--category", "gettingStarted", "--sort-by", "prize")
    sample = emulator.store.root / "competitions/tiny-toxic/data/sample_submission.csv"
    run("competitions", "submit", "-c", "tiny-toxic", "-f", str(sample), "-m", "suite", expect="Successfully submitted")
    run("competitions", "submissions", "tiny-toxic", expect="sample_submission.csv")
    run("competitions", "files", "tiny-toxic", expect="train.csv")
    run("competitions", "download", "tiny-toxic", "-f", "train.csv", "-p", str(tmp_path / "c"))
    run("competitions", "download", "tiny-toxic", "-p", str(tmp_path / "c"))
    assert (tmp_path / "c" / "train.csv").is_file() and (tmp_path / "c" / "tiny-toxic.zip").is_file()
    _until(
        lambda: "testuser" in kaggle("competitions", "leaderboard", "tiny-toxic", "--show", check=False).stdout,
        "scoring",
    )
    run("competitions", "leaderboard", "tiny-toxic", "--download", "-p", str(tmp_path / "lb"))
    assert (tmp_path / "lb" / "tiny-toxic.zip").is_file()

    # -- datasets
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    run("datasets", "init", "-p", str(dataset), expect="Data package template written")
    _edit(dataset / "dataset-metadata.json", id="testuser/kaggleapi-dataset", title="kaggleapi-dataset")
    (dataset / "data.csv").write_text("NumberField,StringField\n1,a\n")
    run("datasets", "create", "-p", str(dataset))
    ready = {"ownerSlug": "testuser", "datasetSlug": "kaggleapi-dataset"}
    _until(lambda: api.ok("datasets.GetDatasetStatus", ready)["status"] == "READY", "the dataset's READY")
    run("datasets", "list", "--sort-by", "votes", "--mine", expect="testuser/kaggleapi-dataset")
    run("datasets", "metadata", "testuser/kaggleapi-dataset", "-p", str(tmp_path / "meta"))
    run("datasets", "metadata", "testuser/kaggleapi-dataset", "--update", "-p", str(tmp_path / "meta"))
    run("datasets", "files", "testuser/kaggleapi-dataset", expect="data.csv")
    run("datasets", "status", "testuser/kaggleapi-dataset", expect="ready")
    run("datasets", "download", "testuser/kaggleapi-dataset", "-f", "data.csv", "-p", str(tmp_path / "d"))
    run("datasets", "download", "testuser/kaggleapi-dataset/1", "-p", str(tmp_path / "d"))
    assert (tmp_path / "d" / "data.csv").is_file() and (tmp_path / "d" / "kaggleapi-dataset.zip").is_file()
    run("datasets", "version", "-p", str(dataset), "-m", "Notes", expect="Dataset version is being created")
    run("datasets", "delete", "testuser/kaggleapi-dataset", "-y")

    # -- models, their instances and versions (framework jax, instance "test", as the suite names them)
    model = tmp_path / "model"
    model.mkdir()
    run("models", "init", "-p", str(model), expect="Model template written")
    _edit(model / "model-metadata.json", ownerSlug="testuser", title="testing", slug="testing")
    run("models", "create", "-p", str(model), expect="Your model was created")
    run("models", "list", expect="testuser/testing")
    (tmp_path / "got").mkdir()
    run("models", "get", "testuser/testing", "-p", str(tmp_path / "got"))
    assert json.loads((tmp_path / "got" / "model-metadata.json").read_text())["title"] == "testing"
    run("models", "update", "-p", str(model))
    instance = model / "instance"
    instance.mkdir()
    run("models", "instances", "init", "-p", str(instance))
    _edit(
        instance / "model-instance-metadata.json",
        ownerSlug="testuser",
        modelSlug="testing",
        instanceSlug="test",
        framework="jax",
    )
    (instance / "weights.bin").write_bytes(b"\0" * 64)
    run("models", "instances", "create", "-p", str(instance), expect="Your model instance was created")
    run("models", "instances", "get", "testuser/testing/jax/test", "-p", str(tmp_path / "got"))
    _until(
        lambda: (
            "weights.bin" in kaggle("models", "instances", "files", "testuser/testing/jax/test", check=False).stdout
        ),
        "files",
    )
    run("models", "instances", "update", "-p", str(instance))
    run("models", "instances", "list", "testuser/testing")
    version = instance / "version"
    version.mkdir()
    (version / "weights.bin").write_bytes(b"\1" * 64)
    run("models", "instances", "versions", "create", "testuser/testing/jax/test", "-p", str(version))
    run("models", "instances", "versions", "files", "testuser/testing/jax/test/1", expect="weights.bin")
    run("models", "instances", "versions", "download", "testuser/testing/jax/test/1", "-p", str(tmp_path / "m"))
    assert (tmp_path / "m" / "testing.tar.gz").is_file()
    run("models", "instances", "versions", "delete", "testuser/testing/jax/test/1", "-y")
    run("kernels", "delete", "testuser/testing-x", "-y")
    run("models", "instances", "delete", "testuser/testing/jax/test", "-y")
    run("models", "delete", "testuser/testing", "-y")
    assert failed == []
