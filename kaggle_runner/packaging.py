"""Data bundles -> Kaggle datasets: a sha256 manifest per bundle; an unchanged bundle is not uploaded again.
Uploads stream from disk (constant memory) and resume after a dropped connection; folders go up as zips."""

from __future__ import annotations

import glob
import hashlib
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

import requests

from kaggle_runner.config import Config, DatasetSpec
from kaggle_runner.errors import UserError
from kaggle_runner.kaggle_api import KaggleApi, KaggleError
from kaggle_runner.ledger import Ledger

CHUNK = 2**20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def manifest(spec: DatasetSpec) -> dict[str, dict[str, Any]]:
    """Name in the dataset -> {sha256, size, path} for every file the spec's globs select.
    A matched file keeps its name; a matched folder contributes its contents (paths inside it)."""
    files: dict[str, dict[str, Any]] = {}
    for pattern in spec.paths:
        matches = sorted(glob.glob(str(spec.folder / pattern), recursive=True))
        if not matches:
            raise UserError(f"{spec.where}: paths: '{pattern}' matches no file in {spec.folder}; fix the glob or "
                            f"create the data (prepare: runs first if set)")
        for m in matches:
            p = Path(m)
            base = p.parent if p.is_file() else p
            for f in ([p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file())):
                rel = f.relative_to(base).as_posix()
                if rel in files and files[rel]["path"] != str(f):
                    raise UserError(f"{spec.where}: paths: two files would both be '{rel}' in the "
                                    f"dataset ({files[rel]['path']} and {f}); narrow the globs")
                files[rel] = {"sha256": sha256_file(f), "size": f.stat().st_size, "path": str(f)}
    return files


def manifest_digest(files: dict[str, dict[str, Any]]) -> str:
    """Content identity of a bundle: names, hashes and sizes (not where the files live locally)."""
    content = {rel: {"sha256": f["sha256"], "size": f["size"]} for rel, f in files.items()}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def upload_file(api: KaggleApi, path: Path, name: str) -> str:
    """StartBlobUpload + a streamed PUT that resumes from the server's Range after a drop; returns the token."""
    from kagglesdk.blobs.types.blob_api_service import ApiBlobType, ApiStartBlobUploadRequest

    size = path.stat().st_size
    req = ApiStartBlobUploadRequest()
    req.type, req.name, req.content_length = ApiBlobType.DATASET, name, size
    req.last_modified_epoch_seconds = int(path.stat().st_mtime)
    start = api.call(f"starting the upload of {name}", lambda: api.client.blobs.blob_api_client.start_blob_upload(req))
    put_file(api, start.create_url, path, name)
    return start.token


def put_file(api: KaggleApi, url: str, path: Path, name: str) -> None:
    """A streamed PUT to an upload URL that resumes from the server's Range after a drop."""
    size = path.stat().st_size
    offset = 0
    for attempt in range(api.retries + 1):
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                headers = {"Content-Range": f"bytes {offset}-{size - 1}/{size}"} if offset else {}
                r = requests.put(url, data=f if size else b"", headers=headers, timeout=(10, 600))
            if r.status_code in (200, 201):
                return
            if r.status_code not in (308, 429, 500, 502, 503, 504):
                raise KaggleError(f"uploading {name}: HTTP {r.status_code} {r.text[:200]}")
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(min(30.0, api.base_delay * 2**attempt))
        try:  # ask how much arrived (GCS resumable protocol)
            probe = requests.put(url, data=b"", headers={"Content-Range": f"bytes */{size}"}, timeout=(10, 60))
        except (requests.ConnectionError, requests.Timeout):
            continue
        if probe.status_code in (200, 201):
            return
        rng = probe.headers.get("Range", "")
        offset = int(rng.rsplit("-", 1)[1]) + 1 if probe.status_code == 308 and rng else 0
    raise KaggleError(f"uploading {name}: gave up after {api.retries + 1} attempts")


def _staged(files: dict[str, dict[str, Any]], tmp: Path) -> list[tuple[Path, str]]:
    """(local path, upload name): top-level files as they are, each top-level folder as one zip."""
    out, folders = [], {}
    for rel, f in files.items():
        parts = rel.split("/")
        if len(parts) == 1:
            out.append((Path(f["path"]), rel))
        else:
            folders.setdefault(parts[0], []).append(rel)
    for folder, members in sorted(folders.items()):
        archive = tmp / f"{folder}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for rel in members:
                zf.write(files[rel]["path"], rel.split("/", 1)[1])
        out.append((archive, archive.name))
    return out


def dataset_version(api: KaggleApi, owner: str, slug: str) -> tuple[int | None, str | None]:
    """(current version, status) of a dataset, (None, None) if it does not exist."""
    from kagglesdk.datasets.types.dataset_api_service import ApiGetDatasetRequest, ApiGetDatasetStatusRequest

    client = api.client.datasets.dataset_api_client

    def get() -> tuple[int | None, str | None]:
        req = ApiGetDatasetRequest()
        req.owner_slug, req.dataset_slug = owner, slug
        try:
            ds = client.get_dataset(req)
        except requests.HTTPError as e:
            if e.response is not None and e.response.status_code == 404:
                return None, None
            raise
        sreq = ApiGetDatasetStatusRequest()
        sreq.owner_slug, sreq.dataset_slug = owner, slug
        return ds.current_version_number, client.get_dataset_status(sreq).status.name

    return api.call(f"reading dataset {owner}/{slug}", get)


def code_manifest(cfg: Config) -> dict[str, dict[str, Any]]:
    """The code bundle's sources: each package folder in kr.yaml `code.packages`, plus kaggle_runner."""
    import kaggle_runner

    folders = [cfg.root / p for p in cfg.packages] + [Path(kaggle_runner.__file__).parent]
    files: dict[str, dict[str, Any]] = {}
    for folder in folders:
        for f in sorted(folder.rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts and f.suffix not in (".pyc", ".pyo"):
                rel = f"{folder.name}/{f.relative_to(folder).as_posix()}"
                files[rel] = {"sha256": sha256_file(f), "size": f.stat().st_size, "path": str(f)}
    return files


def build_wheel(files: dict[str, dict[str, Any]], digest: str, out: Path) -> Path:
    """A pure-Python wheel of the code bundle, built by pip from a generated project."""
    import shutil
    import sys

    project = out / "project"
    for rel, f in files.items():
        target = project / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f["path"], target)
    packages = sorted({rel.split("/")[0] for rel in files})
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "kr-code"\nversion = "0+{digest[:12]}"\n'
        f"[tool.setuptools.packages.find]\ninclude = {json.dumps([p + suffix for p in packages for suffix in ('', '.*')])}\n"
        '[tool.setuptools.package-data]\n"*" = ["*"]\n')
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                        str(out / "dist"), str(project)], capture_output=True, text=True)
    wheels = list((out / "dist").glob("*.whl"))
    if r.returncode != 0 or not wheels:
        errors = [ln.strip() for ln in (r.stderr + r.stdout).splitlines() if "error" in ln.lower()]
        raise UserError(f"building the code bundle failed: {errors[-1] if errors else 'pip wheel exited ' + str(r.returncode)}")
    return wheels[0]


def sync_code(api: KaggleApi, ledger: Ledger, cfg: Config, owner: str, slug: str, say: Callable[[str], None]) -> dict[str, Any]:
    files = code_manifest(cfg)

    def stage(tmp: Path) -> list[tuple[Path, str]]:
        wheel = build_wheel(files, manifest_digest(files), tmp)
        return [(wheel, wheel.name)]

    return sync_bundle(api, ledger, owner, slug, "code", files, stage, say)


def sync_dataset(api: KaggleApi, ledger: Ledger, owner: str, spec: DatasetSpec,
                 say: Callable[[str], None]) -> dict[str, Any]:
    """Run the spec's prepare step (its output goes to stderr, beside kr's progress), then sync its files."""
    if spec.prepare:
        say(f"preparing {spec.name}: {spec.prepare}")
        if subprocess.run(spec.prepare, shell=True, cwd=spec.folder, stdout=sys.stderr).returncode != 0:
            raise UserError(f"{spec.where}: prepare: `{spec.prepare}` failed (its own message is above)")
    files = manifest(spec)
    return sync_bundle(api, ledger, owner, spec.slug, spec.name, files, lambda tmp: _staged(files, tmp), say)


def sync_bundle(api: KaggleApi, ledger: Ledger, owner: str, slug: str, name: str,
                files: dict[str, dict[str, Any]], stage: Callable[[Path], list[tuple[Path, str]]],
                say: Callable[[str], None], ready_timeout: float = 1800) -> dict[str, Any]:
    """Make Kaggle hold this bundle's current content, READY; returns {slug, version, manifest}.
    Nothing is uploaded when the manifest equals the last uploaded one and Kaggle still has that version."""
    from kagglesdk.datasets.types.dataset_api_service import (ApiCreateDatasetRequest,
                                                              ApiCreateDatasetVersionRequest,
                                                              ApiCreateDatasetVersionRequestBody, ApiDatasetNewFile)

    digest = manifest_digest(files)
    ref = f"{owner}/{slug}"
    last = ledger.last_bundle(ref)
    remote_version, status = dataset_version(api, owner, slug)
    if last and last["manifest_sha256"] == digest and remote_version == last["version"]:
        say(f"dataset {ref}: unchanged (v{remote_version}), nothing to upload")
        return {"slug": ref, "version": remote_version, "manifest": digest}

    size = sum(f["size"] for f in files.values())
    say(f"dataset {ref}: uploading {len(files)} files, {size / 1e6:.1f} MB")
    with tempfile.TemporaryDirectory(prefix="kr-bundle-") as tmp:
        tokens = []
        for path, upload_name in stage(Path(tmp)):
            f = ApiDatasetNewFile()
            f.token = upload_file(api, path, upload_name)
            tokens.append(f)
    client = api.client.datasets.dataset_api_client
    expected = (remote_version or 0) + 1
    took_effect = lambda: (dataset_version(api, owner, slug)[0] or 0) >= expected or None  # noqa: E731
    if remote_version is None:
        title = slug.replace("-", " ").title()
        title = (title if len(title) >= 6 else f"{title} Data")[:50]  # Kaggle wants 6-50 characters
        req = ApiCreateDatasetRequest()
        req.owner_slug, req.slug, req.title, req.is_private = owner, slug, title, True
        req.license_name, req.files = "unknown", tokens
        resp = api.call(f"creating dataset {ref}", lambda: client.create_dataset(req), idempotent=False, took_effect=took_effect)
    else:
        body = ApiCreateDatasetVersionRequestBody()
        body.version_notes, body.files = f"kr: manifest {digest[:12]}", tokens
        req = ApiCreateDatasetVersionRequest()
        req.owner_slug, req.dataset_slug, req.body = owner, slug, body
        resp = api.call(f"versioning dataset {ref}", lambda: client.create_dataset_version(req), idempotent=False,
                        took_effect=took_effect)
    if resp is not True and str(getattr(resp, "status", "")).lower() != "ok":
        raise KaggleError(f"dataset {ref}: Kaggle refused the upload: {resp.error or resp.status}")

    deadline = time.time() + ready_timeout
    while True:
        version, status = dataset_version(api, owner, slug)
        if version == expected and status == "READY":
            break
        if version == expected and status == "FAILED":
            raise KaggleError(f"dataset {ref} v{expected}: Kaggle could not process it (FAILED)")
        if time.time() > deadline:
            raise KaggleError(f"dataset {ref} v{expected} not READY after {ready_timeout:.0f} s (status {status})")
        time.sleep(0.25 if "127.0.0.1" in api.url or "localhost" in api.url else 3)
    ledger.record_bundle(ref, expected, name, digest, len(files), size)
    say(f"dataset {ref}: v{expected} READY")
    return {"slug": ref, "version": expected, "manifest": digest}
