"""Datasets on the emulator: processing states, archives unpacked as folders, hostile archives refused."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import requests

from helpers import Api, tree_digest


def _status(api: Api, slug: str) -> str:
    return api.ok("datasets.GetDatasetStatus", {"ownerSlug": "testuser", "datasetSlug": slug})["status"]


def _create(api: Api, slug: str, files: dict[str, bytes]) -> None:
    api.create_dataset(slug, files, ready=False)


def _version(api: Api, slug: str, files: dict[str, bytes]) -> None:
    tokens = [{"token": api.upload(name, data)} for name, data in files.items()]
    r = api.ok(
        "datasets.CreateDatasetVersion",
        {"ownerSlug": "testuser", "datasetSlug": slug, "body": {"versionNotes": "next", "files": tokens}},
    )
    assert r["status"] == "Ok", r


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_new_version_passes_processing_states_then_ready(api: Api) -> None:
    assert (
        api.call("datasets.GetDatasetStatus", {"ownerSlug": "testuser", "datasetSlug": "not-there"}).status_code == 404
    )
    _create(api, "staged", {"a.csv": b"1\n"})
    assert _status(api, "staged") in (
        "BLOBS_RECEIVED",
        "BLOBS_DECOMPRESSED",
        "BLOBS_COPIED_TO_SDS",
        "INDIVIDUAL_BLOBS_COMPRESSED",
    )
    assert api.wait_dataset("staged") == "READY"
    again = api.ok(
        "datasets.CreateDataset",
        {"ownerSlug": "testuser", "slug": "staged", "title": "Again", "files": [{"token": api.upload("b.csv", b"2")}]},
    )
    assert "already in use" in again["error"]
    meta = api.ok("datasets.GetDataset", {"ownerSlug": "testuser", "datasetSlug": "staged"})
    assert meta["currentVersionNumber"] == 1 and meta["ref"] == "testuser/staged"


def test_archives_become_folders(api: Api, emulator) -> None:
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as tf:
        info = tarfile.TarInfo("t/deep.txt")
        info.size = 4
        tf.addfile(info, io.BytesIO(b"deep"))
    _create(api, "archives", {"imgs.zip": _zip({"a.txt": b"A", "sub/b.txt": b"B"}), "more.tar": tar.getvalue()})
    assert api.wait_dataset("archives") == "READY"
    root = emulator.store.root / "datasets" / "testuser" / "archives" / "1"
    assert (root / "imgs" / "sub" / "b.txt").read_bytes() == b"B"
    assert (root / "more" / "t" / "deep.txt").read_bytes() == b"deep"
    r = requests.post(
        f"{api.url}/v1/datasets.DatasetApiService/DownloadDataset",
        auth=api.auth,
        timeout=10,
        json={"ownerSlug": "testuser", "datasetSlug": "archives", "fileName": "imgs/sub/b.txt"},
    )
    assert r.status_code == 200 and r.content == b"B" and r.url.endswith("/b.txt")


def test_escaping_and_oversized_archives_fail_and_touch_nothing(make_emulator, tmp_path: Path) -> None:
    em = make_emulator(settings={"max_dataset_bytes": 10_000})
    from helpers import creds

    c = creds(em)
    api = Api(em.url, c["username"], c["key"])
    _create(api, "victim", {"good.csv": b"x\n1\n"})
    assert api.wait_dataset("victim") == "READY"
    before = tree_digest(em.store.root / "datasets")
    outside = em.store.root.parent

    link = io.BytesIO()
    with tarfile.open(fileobj=link, mode="w") as tf:
        info = tarfile.TarInfo("evil")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(info)
    bad = {
        "dotdot.zip": _zip({"ok.txt": b"ok", "../../escaped.txt": b"pwned"}),
        "absolute.zip": _zip({"/tmp/escaped-abs.txt": b"pwned"}),
        "link.tar": link.getvalue(),
        "bomb.zip": _zip({"big.bin": b"\0" * 50_000}),
        "broken.zip": b"PK\x03\x04 definitely not a zip",
    }
    for name, data in bad.items():
        _version(api, "victim", {name: data})
        assert api.wait_dataset("victim") == "FAILED", name
    assert not list(outside.rglob("escaped*")) and not Path("/tmp/escaped-abs.txt").exists()
    after = tree_digest(em.store.root / "datasets")
    assert after == before  # the good version is intact and no half-unpacked folder is left
    ok = requests.post(
        f"{api.url}/v1/datasets.DatasetApiService/DownloadDataset",
        auth=api.auth,
        timeout=10,
        json={"ownerSlug": "testuser", "datasetSlug": "victim", "datasetVersionNumber": 1, "fileName": "good.csv"},
    )
    assert ok.content == b"x\n1\n"


def test_create_refuses_unknown_or_foreign_tokens(api: Api) -> None:
    r = api.call(
        "datasets.CreateDataset",
        {"ownerSlug": "testuser", "slug": "tokens", "title": "Tokens", "files": [{"token": "made-up"}]},
    )
    assert r.status_code == 400 and "unknown upload token" in r.json()["message"]
    start = api.ok("blobs.StartBlobUpload", {"type": "DATASET", "name": "half.csv", "contentLength": 10})
    r = api.call(
        "datasets.CreateDataset",
        {"ownerSlug": "testuser", "slug": "tokens", "title": "Tokens", "files": [{"token": start["token"]}]},
    )
    assert r.status_code == 400 and "not complete" in r.json()["message"]
    r = api.call("datasets.CreateDataset", {"ownerSlug": "other", "slug": "tokens", "title": "Tokens", "files": []})
    assert r.status_code == 403


def test_another_users_private_dataset_is_not_there_by_id_either(make_emulator, tmp_path: Path) -> None:
    """CreateDatasetVersionById of someone else's private dataset answered a 403 naming it: owner and slug."""
    import json

    from helpers import creds
    from kaggle_runner.emulator.seed import init_state

    state = tmp_path / "state"
    init_state(state, {"dataset_ready_seconds": 0.1})
    config = json.loads((state / "config.json").read_text())
    config["users"].append({"username": "alice", "key": "1" * 32, "id": 2, "tokens": []})
    (state / "config.json").write_text(json.dumps(config))
    emulator = make_emulator(state)
    me, alice = Api(emulator.url, "testuser", creds(emulator)["key"]), Api(emulator.url, "alice", "1" * 32)
    token = me.upload("a.csv", b"x\n1\n")
    body = {"ownerSlug": "testuser", "slug": "secret-data", "title": "Secret Data", "isPrivate": True}
    me.ok("datasets.CreateDataset", {**body, "files": [{"token": token}]})
    ident = me.ok("datasets.GetDataset", {"ownerSlug": "testuser", "datasetSlug": "secret-data"})["id"]
    r = alice.call("datasets.CreateDatasetVersionById", {"id": ident, "body": {"versionNotes": "mine now"}})
    assert r.status_code == 404 and "secret-data" not in r.text and "testuser" not in r.text, r.text
