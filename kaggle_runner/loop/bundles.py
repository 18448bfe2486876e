"""Bundles on Kaggle: make a private dataset hold a bundle's current content, READY, uploading only what changed.
The sequence of Kaggle calls for the code bundle and each data bundle; packaging prepares the files."""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kaggle_runner import layout
from kaggle_runner.config import Config, DatasetSpec
from kaggle_runner.errors import UserError
from kaggle_runner.kaggle.api import KaggleApi, KaggleError
from kaggle_runner.kaggle.pacing import poll_intervals
from kaggle_runner.ledger.db import Ledger
from kaggle_runner.loop import packaging
from kaggle_runner.loop.wheels import Wheelhouse
from kaggle_runner.project import Say

Stage = Callable[[Path], Iterable[packaging.Staged]]


def sync_code(
    api: KaggleApi, ledger: Ledger, cfg: Config, owner: str, shipped: dict[str, Path], say: Say
) -> dict[str, Any]:
    """The code bundle as the dataset cfg.code_slug: code.packages and kaggle_runner as one wheel (when kr.yaml has
    `code:`), and the kernels' folders (`shipped`, packaging.kernel_files) as kr-src/, which Kaggle unpacks."""
    files = packaging.code_manifest(cfg, shipped)
    for warning in packaging.large(files):
        say(f"warning: {warning}")
    wheel_files = {rel: f for rel, f in files.items() if not rel.startswith(packaging.SRC + "/")}
    folders = {rel: f for rel, f in files.items() if rel.startswith(packaging.SRC + "/")}

    def stage(tmp: Path) -> Iterable[packaging.Staged]:
        if wheel_files:
            wheel = packaging.build_wheel(wheel_files, packaging.manifest_digest(wheel_files), tmp)
            yield packaging.Staged(wheel, wheel.name)
        yield from packaging.stage(folders, tmp)

    return sync_bundle(api, ledger, owner, cfg.code_slug, "code", files, stage, say)


def sync_wheels(api: KaggleApi, ledger: Ledger, cfg: Config, owner: str, house: Wheelhouse, say: Say) -> dict[str, Any]:
    """code.requirements' wheels as the dataset cfg.wheels_slug: uploaded when the resolved set changes."""
    files: packaging.Files = {
        w: {"path": str(house.folder / w), "size": (house.folder / w).stat().st_size} for w in house.wheels
    }
    return sync_bundle(
        api, ledger, owner, cfg.wheels_slug, "wheels", files, lambda tmp: packaging.stage(files, tmp), say
    )


def sync_dataset(api: KaggleApi, ledger: Ledger, owner: str, spec: DatasetSpec, say: Say) -> dict[str, Any]:
    """Run the spec's prepare step (its output goes to stderr, beside kr's progress), then sync its files."""
    if spec.prepare:
        say(f"preparing {spec.name}: {spec.prepare}")
        if subprocess.run(spec.prepare, shell=True, cwd=spec.folder, stdout=sys.stderr).returncode != 0:
            raise UserError(f"{spec.where}: prepare: `{spec.prepare}` failed (its own message is above)")
    files = packaging.select(spec)
    return sync_bundle(api, ledger, owner, spec.slug, spec.name, files, lambda tmp: packaging.stage(files, tmp), say)


def sync_bundle(
    api: KaggleApi,
    ledger: Ledger,
    owner: str,
    slug: str,
    name: str,
    files: packaging.Files,
    stage: Stage,
    say: Say,
    ready_timeout: float = 1800,
) -> dict[str, Any]:
    """Make Kaggle hold this bundle's current content, READY; returns {slug, version, manifest}.
    Nothing is uploaded when the manifest equals the last uploaded one and Kaggle still has that version. Files are
    hashed before only when there is a last upload to compare with; otherwise the upload itself hashes them."""
    ref = f"{owner}/{slug}"
    # Two pushes of this project that both found the bundle changed would both upload it: the second waits here, then
    # finds it unchanged.
    with _locked(layout.lock_file(ledger.root, f"dataset-{owner}-{slug}"), say, f"dataset {ref}"):
        return _sync(api, ledger, ref, name, files, stage, say, ready_timeout)


def _sync(
    api: KaggleApi, ledger: Ledger, ref: str, name: str, files: packaging.Files, stage: Stage, say: Say, wait: float
) -> dict[str, Any]:
    """sync_bundle's work, under its lock (`wait`: the READY timeout)."""
    owner, _, slug = ref.partition("/")
    last = ledger.last_bundle(ref)
    remote_version, status = api.dataset_status(owner, slug)
    if last and remote_version == last["version"] and status != "FAILED":
        hashed = packaging.hash_all(files, lambda done, total: api.on_bytes(f"hashing {ref}", done, total))
        digest = packaging.manifest_digest(hashed)
        if digest == last["manifest_sha256"]:
            if (
                status != "READY" and remote_version is not None
            ):  # uploaded by a kr that was stopped while Kaggle processed it: wait, not again
                say(f"dataset {ref}: v{remote_version} is still being processed; waiting until READY")
                _wait_ready(api, owner, slug, remote_version, wait)
            say(f"dataset {ref}: unchanged (v{remote_version}), nothing to upload")
            return {"slug": ref, "version": remote_version, "manifest": digest}

    size = sum(f["size"] for f in files.values())
    say(f"dataset {ref}: uploading {len(files)} files, {size / 1e6:.1f} MB")
    # Zipping the next folder (zlib and hashlib work outside the GIL) overlaps the upload of what is ready.
    with tempfile.TemporaryDirectory(prefix="kr-bundle-") as tmp, ThreadPoolExecutor(1) as uploader:
        pending = [uploader.submit(_upload, api, staged, files) for staged in stage(Path(tmp))]
        tokens = [p.result() for p in pending]
    digest = packaging.manifest_digest(packaging.hash_all(files))
    if remote_version is None:
        title = slug.replace("-", " ").title()
        title = (title if len(title) >= 6 else f"{title} Data")[:50]  # Kaggle wants 6-50 characters
        # CreateDataset takes no notes: the dataset's being there is the sign, and its version is 1
        api.create_dataset(owner, slug, title, tokens, lambda: 1 if api.dataset_status(owner, slug)[0] else None)
        version = 1
    else:
        # The version is the one whose notes carry this manifest, never "the last one plus 1": a push killed
        # after its call was sent can land its own version in between.
        notes = f"kr: manifest {digest[:12]}"
        api.create_dataset_version(
            owner, slug, notes, tokens, lambda: api.dataset_version_noted(owner, slug, notes, remote_version)
        )
        noted = api.dataset_version_noted(owner, slug, notes, remote_version)
        # accepted, but its notes are not shown: the newest is the best left to go by
        version = noted or api.dataset_status(owner, slug)[0] or remote_version + 1
    # recorded before the READY wait, so that a kr stopped during it waits next time instead of uploading again
    ledger.record_bundle(ref, version, name, digest, len(files), size)
    _wait_ready(api, owner, slug, version, wait)
    say(f"dataset {ref}: v{version} READY")
    return {"slug": ref, "version": version, "manifest": digest}


@contextmanager
def _locked(path: Path, say: Say, what: str) -> Iterator[None]:
    """Hold an exclusive lock on `path` for the block, saying so when another kr process holds it first. The lock
    is the kernel's (flock), so a kr that is killed lets go of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"{what}: another kr of this project is uploading it; waiting for it to finish")
            fcntl.flock(f, fcntl.LOCK_EX)
        yield  # closing the file lets go of the lock


def _upload(api: KaggleApi, staged: packaging.Staged, files: packaging.Files) -> str:
    member = files.get(staged.member) if staged.member else None
    hasher = hashlib.sha256() if member is not None and "sha256" not in member else None
    token = api.upload_file(staged.path, staged.name, hasher)
    if member is not None and hasher is not None:
        member["sha256"] = hasher.hexdigest()
    return token


def _wait_ready(api: KaggleApi, owner: str, slug: str, expected: int, timeout: float) -> None:
    """Poll GetDatasetStatus until the new version is READY; a kernel pushed before that would not see it."""
    try:
        _poll_ready(api, owner, slug, expected, timeout, time.time())
    finally:
        api.on_wait(None)


def _poll_ready(api: KaggleApi, owner: str, slug: str, expected: int, timeout: float, started: float) -> None:
    ref, deadline = f"{owner}/{slug}", started + timeout
    for delay in poll_intervals(start=0.1, cap_ratio=50):  # small datasets are READY in a second, big ones in minutes
        version, status = api.dataset_status(owner, slug)
        api.on_wait(f"dataset {ref} v{expected}: processing ({status}, {time.time() - started:.0f} s)")
        if version is not None and version > expected and status == "READY":
            return  # a newer version (another machine's push) is READY, so this one was processed too
        if version == expected and status == "READY":
            return
        if version == expected and status == "FAILED":
            raise KaggleError(f"dataset {ref} v{expected}: Kaggle could not process it (FAILED)")
        if time.time() > deadline:
            raise KaggleError(f"dataset {ref} v{expected} not READY after {timeout:.0f} s (status {status})")
        time.sleep(delay)
