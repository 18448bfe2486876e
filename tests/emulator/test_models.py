"""Kaggle Models on the emulator: the official CLI's `kaggle models` commands, kagglehub's model_upload and
model_download, and kernels that read a model version from model_sources at Kaggle's mount point."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from helpers import Api, creds, kagglehub

pytestmark = pytest.mark.slow


def _metadata(folder: Path, name: str, body: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(body))
    return folder


def _publish(kaggle, tmp_path: Path, weights: str = "weights-v1") -> None:
    """testuser/toxic-tiny with instance pyTorch/fold-0 v1: best.pt and a tok/ folder (uploaded zipped, as -r zip)."""
    model = {"ownerSlug": "testuser", "title": "Toxic Tiny", "slug": "toxic-tiny", "isPrivate": True, "description": ""}
    kaggle("models", "create", "-p", str(_metadata(tmp_path / "m", "model-metadata.json", model)))
    instance = {
        "ownerSlug": "testuser",
        "modelSlug": "toxic-tiny",
        "instanceSlug": "fold-0",
        "framework": "pyTorch",
        "licenseName": "Apache 2.0",
    }
    folder = _metadata(tmp_path / "inst", "model-instance-metadata.json", instance)
    (folder / "best.pt").write_text(weights)
    (folder / "tok").mkdir()
    (folder / "tok" / "vocab.txt").write_text("vocab")
    kaggle("models", "instances", "create", "-p", str(folder), "-r", "zip")


def _ready(api: Api, version: int = 1) -> None:
    body = {"ownerSlug": "testuser", "modelSlug": "toxic-tiny", "framework": "pyTorch", "instanceSlug": "fold-0"}
    for _ in range(200):
        if api.call("models.ListModelInstanceVersionFiles", {**body, "versionNumber": version}).status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"version {version} never ready")


def test_the_official_cli_creates_versions_lists_and_downloads_a_model(kaggle, api: Api, tmp_path: Path) -> None:
    _publish(kaggle, tmp_path)
    folder = tmp_path / "inst"
    (folder / "best.pt").write_text("weights-v2")
    ref = "testuser/toxic-tiny/pyTorch/fold-0"
    out = kaggle("models", "instances", "versions", "create", ref, "-p", str(folder), "-n", "epoch 5", "-r", "zip")
    assert "toxic-tiny/pytorch/fold-0/2" in out.stdout
    _ready(api, 2)

    versions = kaggle("models", "instances", "versions", "list", ref, "--csv").stdout.splitlines()
    assert [line.split(",")[0] for line in versions[1:]] == ["2", "1"]
    files = kaggle("models", "instances", "versions", "files", f"{ref}/2", "--csv").stdout
    assert "best.pt,10," in files and "tok/vocab.txt,5," in files
    kaggle("models", "instances", "versions", "download", f"{ref}/1", "-p", str(tmp_path / "dl"), "--untar")
    assert (tmp_path / "dl" / "best.pt").read_text() == "weights-v1"
    assert (tmp_path / "dl" / "tok" / "vocab.txt").read_text() == "vocab"
    listed = kaggle("models", "list", "--owner", "testuser", "--csv").stdout
    assert "testuser/toxic-tiny,Toxic Tiny" in listed

    kaggle("models", "instances", "versions", "delete", f"{ref}/1", "-y")
    versions = kaggle("models", "instances", "versions", "list", ref, "--csv").stdout.splitlines()
    assert [line.split(",")[0] for line in versions[1:]] == ["2"]
    kaggle("models", "delete", "testuser/toxic-tiny", "-y")
    assert api.call("models.GetModel", {"ownerSlug": "testuser", "modelSlug": "toxic-tiny"}).status_code == 404


def _publish_api(api: Api) -> None:
    """testuser/toxic-tiny, instance pyTorch/fold-0 v1 holding best.pt, made through the API as kagglesdk sends it."""
    model = {"ownerSlug": "testuser", "slug": "toxic-tiny", "title": "Toxic Tiny", "isPrivate": True}
    assert "error" not in api.ok("models.CreateModel", model)
    body = {
        "instanceSlug": "fold-0",
        "framework": "MODEL_FRAMEWORK_PY_TORCH",
        "files": [{"token": api.upload("best.pt", b"weights-v1")}],
    }
    api.ok("models.CreateModelInstance", {"ownerSlug": "testuser", "modelSlug": "toxic-tiny", "body": body})
    _ready(api)


def test_another_users_private_model_is_not_there_for_them(make_emulator, tmp_path: Path) -> None:
    from kaggle_runner.emulator.seed import init_state

    state = tmp_path / "state"
    init_state(state)
    config = json.loads((state / "config.json").read_text())
    config["users"].append({"username": "alice", "key": "1" * 32, "id": 2, "tokens": []})
    (state / "config.json").write_text(json.dumps(config))
    emulator = make_emulator(state)
    _publish_api(Api(emulator.url, "testuser", config["users"][0]["key"]))
    alice = Api(emulator.url, "alice", "1" * 32)
    assert alice.call("models.GetModel", {"ownerSlug": "testuser", "modelSlug": "toxic-tiny"}).status_code == 404
    r = alice.ok(
        "kernels.SaveKernel",
        {
            "slug": "alice/reads-it",
            "newTitle": "Reads It",
            "text": "print(1)",
            "language": "python",
            "kernelType": "script",
            "modelDataSources": ["testuser/toxic-tiny/pyTorch/fold-0/1"],
        },
    )
    assert r["invalidModelSources"] == ["testuser/toxic-tiny/pyTorch/fold-0/1"]


def test_kagglehub_uploads_and_downloads_model_versions(emulator, tmp_path: Path) -> None:
    """kagglehub 1.0.3 as a notebook or a laptop runs it: model_upload makes v1, then v2 of the same instance."""
    code = """
import sys, time, kagglehub
folder, handle = sys.argv[1], "testuser/hub-model/transformers/base"
open(folder + "/model.bin", "w").write("one")
kagglehub.model_upload(handle, folder, version_notes="first")
open(folder + "/model.bin", "w").write("two")
kagglehub.model_upload(handle, folder, version_notes="second")
time.sleep(0.5)  # the version's files are laid out in the background, as on Kaggle
print("GOT", open(kagglehub.model_download(handle + "/1") + "/model.bin").read())
print("GOT", open(kagglehub.model_download(handle) + "/model.bin").read())
"""
    (tmp_path / "up").mkdir()
    assert kagglehub(emulator, tmp_path, code, str(tmp_path / "up")) == ["GOT one", "GOT two"]  # the newest is v2


@pytest.mark.parametrize("layout", ["2026", "legacy"])
def test_a_kernel_reads_its_model_source_where_kaggle_mounts_it(make_emulator, layout: str) -> None:
    emulator = make_emulator(settings={"input_layout": layout})
    c = creds(emulator)
    api = Api(emulator.url, c["username"], c["key"])
    _publish_api(api)
    where = {
        "2026": "/kaggle/input/models/testuser/toxic-tiny/pytorch/fold-0/1",
        "legacy": "/kaggle/input/toxic-tiny/pytorch/fold-0/1",
    }[layout]
    unpinned = api.push("no-version", "print(1)", modelDataSources=["testuser/toxic-tiny/pyTorch/fold-0"])
    assert unpinned["invalidModelSources"] == ["testuser/toxic-tiny/pyTorch/fold-0"]  # Kaggle documents a version
    source = ["testuser/toxic-tiny/pyTorch/fold-0/1"]
    api.push("reads-model", f"print(open('{where}/best.pt').read())", modelDataSources=source)
    assert api.wait("reads-model")["status"] == "COMPLETE"
    log = api.ok("kernels.ListKernelSessionOutput", {"userName": "testuser", "kernelSlug": "reads-model"})["log"]
    assert "weights-v1" in log
