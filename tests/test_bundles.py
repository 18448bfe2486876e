"""Bundles against the emulator, in-process: a first push reads each data file once (hashed as it is uploaded or
zipped), records the same manifest a separate hash pass gives, and an unchanged bundle is not uploaded again."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from helpers import creds
from kaggle_runner import packaging
from kaggle_runner.bundles import sync_dataset
from kaggle_runner.config import DatasetSpec
from kaggle_runner.kaggle_api import Credentials, KaggleApi
from kaggle_runner.ledger import open_ledger


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
