"""Bundles against the emulator, in-process: a first push reads each data file once (hashed as it is uploaded or
zipped), records the same manifest a separate hash pass gives, and an unchanged bundle is not uploaded again."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from helpers import Api, creds
from kaggle_runner.config import DatasetSpec
from kaggle_runner.emulator.faults import Faults, Rule
from kaggle_runner.kaggle.api import Credentials, KaggleApi
from kaggle_runner.ledger.db import open_ledger
from kaggle_runner.loop import packaging
from kaggle_runner.loop.bundles import sync_dataset


@pytest.fixture
def spec(tmp_path: Path) -> DatasetSpec:
    data = tmp_path / "data"
    (data / "texts").mkdir(parents=True)
    (data / "train.csv").write_text("id,y\n" + "".join(f"{i},{i % 2}\n" for i in range(5000)))
    (data / "weights.bin").write_bytes(bytes(range(256)) * 2000)
    for i in range(3):
        (data / "texts" / f"part{i}.txt").write_text(f"text {i}\n" * 1000)
    return DatasetSpec("bits", "train-bits", ["data"], folder=tmp_path, where="kr.yaml: datasets.bits")


def _puts(emulator) -> int:
    return sum(e["bytes_in"] for e in emulator.requests if e["method"] == "PUT")


def test_a_first_push_hashes_while_uploading_and_records_the_true_manifest(emulator, spec, tmp_path, monkeypatch):
    c = creds(emulator)
    api = KaggleApi(emulator.url, Credentials(c["username"], key=c["key"]))
    ledger = open_ledger(tmp_path)

    def no_hash_pass(path: Path) -> str:
        raise AssertionError(f"{path} was read by a hash pass of its own")

    monkeypatch.setattr(packaging, "sha256_file", no_hash_pass)
    first = sync_dataset(api, ledger, "testuser", spec, lambda _: None)
    monkeypatch.undo()
    truth = packaging.manifest_digest(packaging.manifest(spec))
    assert first == {"slug": "testuser/train-bits", "version": 1, "manifest": truth}
    ready = emulator.datasets.ready_dir("testuser/train-bits")
    for f in ("train.csv", "weights.bin", "texts/part2.txt"):
        assert (
            hashlib.sha256((ready / f).read_bytes()).digest()
            == hashlib.sha256((tmp_path / "data" / f).read_bytes()).digest()
        )

    sent = _puts(emulator)
    again = sync_dataset(api, ledger, "testuser", spec, lambda _: None)
    assert again == first and _puts(emulator) == sent  # unchanged: nothing uploaded

    (tmp_path / "data" / "texts" / "part1.txt").write_text("changed\n")
    changed = sync_dataset(api, ledger, "testuser", spec, lambda _: None)
    assert changed["version"] == 2 and changed["manifest"] == packaging.manifest_digest(packaging.manifest(spec))
    assert (emulator.datasets.ready_dir("testuser/train-bits") / "texts" / "part1.txt").read_text() == "changed\n"


def test_a_push_stopped_while_kaggle_processes_the_data_waits_next_time_instead_of_uploading(
    emulator, spec, tmp_path, monkeypatch
):
    from kaggle_runner.loop import bundles

    c = creds(emulator)
    api = KaggleApi(emulator.url, Credentials(c["username"], key=c["key"]))
    ledger = open_ledger(tmp_path)

    def killed(*args):
        raise KeyboardInterrupt  # kill -9 or Ctrl-C during the READY wait

    monkeypatch.setattr(bundles, "_wait_ready", killed)
    with pytest.raises(KeyboardInterrupt):
        sync_dataset(api, ledger, "testuser", spec, lambda _: None)
    monkeypatch.undo()
    sent, said = _puts(emulator), []
    again = sync_dataset(api, ledger, "testuser", spec, said.append)
    assert again["version"] == 1 and _puts(emulator) == sent  # the same version, waited for, not uploaded twice
    assert emulator.datasets.ready_dir("testuser/train-bits") is not None
    assert len(emulator.store.state["datasets"]["testuser/train-bits"]["versions"]) == 1


def test_uploads_no_create_call_took_are_dropped_after_the_ttl(api, emulator) -> None:
    import time

    emulator.store.settings["blob_ttl_seconds"] = 0.2
    start = api.ok("blobs.StartBlobUpload", {"type": "DATASET", "name": "big.bin", "contentLength": 10})
    requests.put(start["createUrl"], data=b"12345", headers={"Content-Range": "bytes 0-4/10"}, timeout=10)
    blob = emulator.store.root / "blobs" / start["token"]
    assert blob.exists()
    time.sleep(0.3)
    api.upload("next.csv", b"a,b\n")  # any new upload sweeps what has expired
    assert not blob.exists() and start["token"] not in emulator.store.state["blobs"]
    r = requests.put(start["createUrl"], data=b"67890", headers={"Content-Range": "bytes 5-9/10"}, timeout=10)
    assert r.status_code == 404


def _changed(spec: DatasetSpec, text: str) -> None:
    (spec.folder / "data" / "texts" / "part1.txt").write_text(text)


def _in_thread(fn: Callable[[], Any], seconds: float = 60) -> Any:
    """fn's result, failing the test instead of hanging where fn would wait for its 30-minute READY timeout."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as e:
            out.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert out, f"still waiting after {seconds} s"
    if isinstance(out[0], BaseException):
        raise out[0]
    return out[0]


def test_a_version_landing_in_between_does_not_make_the_push_wait_for_the_wrong_one(emulator, spec, tmp_path):
    """A push killed after its CreateDatasetVersion was sent lands its version while the next push uploads: the
    next push took "last + 1" for its own and waited 30 minutes for it to be the current one."""
    c = creds(emulator)
    api = KaggleApi(emulator.url, Credentials(c["username"], key=c["key"]))
    ledger = open_ledger(tmp_path)
    sync_dataset(api, ledger, "testuser", spec, lambda _: None)

    class KilledPushLandsFirst(Faults):
        done = False

        def pick(self, route: str) -> Rule | None:
            if route.endswith("/CreateDatasetVersion") and not self.done:
                self.done = True
                other = Api(emulator.url, c["username"], c["key"])
                token = other.upload("train.csv", b"id,y\n1,0\n")
                body = {"versionNotes": "kr: manifest 0123456789ab", "files": [{"token": token}]}
                ref = {"ownerSlug": "testuser", "datasetSlug": "train-bits"}
                other.ok("datasets.CreateDatasetVersion", {**ref, "body": body})
            return None

    emulator.faults = KilledPushLandsFirst()
    _changed(spec, "changed\n")
    pushed = _in_thread(lambda: sync_dataset(api, open_ledger(tmp_path), "testuser", spec, lambda _: None))
    assert pushed["version"] == 3 and ledger.last_bundle("testuser/train-bits")["version"] == 3
    assert (emulator.datasets.ready_dir("testuser/train-bits") / "texts" / "part1.txt").read_text() == "changed\n"


def test_two_pushes_of_one_changed_dataset_upload_it_once(emulator, spec, tmp_path):
    c = creds(emulator)
    api = KaggleApi(emulator.url, Credentials(c["username"], key=c["key"]))
    ledger = open_ledger(tmp_path)
    sync_dataset(api, ledger, "testuser", spec, lambda _: None)
    _changed(spec, "changed\n")
    said: list[str] = []
    pool = ThreadPoolExecutor(2)
    push = lambda: sync_dataset(api, open_ledger(tmp_path), "testuser", spec, said.append)  # noqa: E731
    pushes = [pool.submit(push) for _ in "ab"]
    both = _in_thread(lambda: [p.result() for p in pushes])
    assert [b["version"] for b in both] == [2, 2]
    assert len(emulator.store.state["datasets"]["testuser/train-bits"]["versions"]) == 2
    assert any("another kr of this project is uploading it; waiting" in s for s in said), said


def test_the_ready_wait_and_the_hashing_report_progress(emulator, spec, tmp_path):
    """A 209.7 MB upload was one static line until READY: nothing said what kr waited for, or how far hashing got."""
    c = creds(emulator)
    api = KaggleApi(emulator.url, Credentials(c["username"], key=c["key"]))
    waits: list[str | None] = []
    moved: list[tuple[str, int, int]] = []
    api.on_wait, api.on_bytes = waits.append, lambda name, done, total: moved.append((name, done, total))
    ledger = open_ledger(tmp_path)
    sync_dataset(api, ledger, "testuser", spec, lambda _: None)
    assert waits[-1] is None and any("testuser/train-bits v1: processing (" in str(w) for w in waits)
    moved.clear()
    sync_dataset(api, ledger, "testuser", spec, lambda _: None)  # unchanged: hashed to compare, not uploaded
    hashing = [m for m in moved if m[0] == "hashing testuser/train-bits"]
    total = sum(f["size"] for f in packaging.select(spec).values())
    assert hashing and hashing[-1] == ("hashing testuser/train-bits", total, total)
