"""The only module that talks to Kaggle: credentials, kagglesdk calls, uploads, downloads, retries, error mapping.
Retries 429 (honouring Retry-After), 5xx and dropped connections; never repeats a non-idempotent call blindly."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import requests
import urllib3
from requests.adapters import HTTPAdapter

from kaggle_runner.errors import UserError
from kaggle_runner.kaggle.log_events import parse_log

T = TypeVar("T")
RETRYABLE = (429, 500, 502, 503, 504)
TIMEOUT = (10, 120)  # connect, read: kagglesdk sets none, and a dead server must not hang `kr wait`
ANSWER_SECONDS = 300.0  # a whole answer (not a download): a server trickling bytes must not hold kr for ever
WHOLE_ANSWER = "no whole answer within"
MAX_ANSWER_BYTES = 256 * 2**20  # Kaggle's largest answers are session logs, a few MB
UPLOAD_TIMEOUT = (10, 600)
MAX_PAGES = 1000  # of a listing: a server that keeps answering with another page must not hold kr for ever


@dataclass(frozen=True)
class KernelPush:
    """What one SaveKernel sends: a private kernel's code, the machine it asks for and what it reads."""

    ref: str  # owner/slug
    title: str
    text: str  # the script or the notebook's JSON
    kernel_type: str  # script or notebook
    kind: str  # cpu, gpu or tpu
    internet: bool
    datasets: list[str]
    competitions: list[str]
    kernels: list[str]
    models: list[str]
    machine_shape: str | None = None  # Kaggle's name of the machine, where the kind alone does not say it
    docker_image: str | None = None
    timeout: int | None = None  # seconds

    def body(self) -> dict[str, Any]:
        """The request as kagglesdk's ApiSaveKernelRequest reads it (docs/wire-protocol.md)."""
        body = {
            "slug": self.ref,
            "newTitle": self.title,
            "text": self.text,
            "language": "python",
            "kernelType": self.kernel_type,
            "isPrivate": True,
            "enableInternet": self.internet,
            "enableGpu": self.kind == "gpu",
            "enableTpu": self.kind == "tpu",
            "datasetDataSources": self.datasets,
            "competitionDataSources": self.competitions,
            "kernelDataSources": self.kernels,
            "modelDataSources": self.models,
            "machineShape": self.machine_shape,
            "dockerImage": self.docker_image,
            "sessionTimeoutSeconds": self.timeout,
        }
        return {k: v for k, v in body.items() if v is not None}


@dataclass(frozen=True)
class Saved:
    """SaveKernel's answer: the version it made, or Kaggle's refusal; `dropped` names sources Kaggle did not know.
    `unsure`: the answer was lost and whether the call landed cannot be told yet."""

    version: int | None = None
    error: str | None = None
    dropped: tuple[str, ...] = ()
    unsure: bool = False


class KaggleError(UserError):
    """Kaggle refused or failed a call; `status` is the HTTP status where there was one."""

    exit_code = 1
    status: int | None = None  # the HTTP status Kaggle answered, where there was one


class NoCredentials(UserError):
    """No Kaggle credentials in any of the places the official CLI reads them from."""


@dataclass
class Credentials:
    """A Kaggle username with its legacy key or its access token, and where they were found."""

    username: str | None
    key: str | None = None
    token: str | None = None
    source: str = ""


def find_credentials() -> Credentials:
    """Credentials in the order the official `kaggle` CLI reads them (docs/wire-protocol.md §1.7)."""
    home = Path.home()
    env_token = os.environ.get("KAGGLE_API_TOKEN")
    if env_token:
        p = Path(env_token)
        token = p.read_text().strip() if len(env_token) < 4096 and p.is_file() else env_token.strip()
        return Credentials(os.environ.get("KAGGLE_USERNAME"), token=token, source="KAGGLE_API_TOKEN")
    for name in ("access_token", "access_token.txt"):
        p = home / ".kaggle" / name
        if p.is_file():
            return Credentials(os.environ.get("KAGGLE_USERNAME"), token=p.read_text().strip(), source=str(p))
    config_dir = os.environ.get("KAGGLE_CONFIG_DIR")
    if config_dir:
        folder = Path(config_dir)
    elif (home / ".kaggle").is_dir():
        folder = home / ".kaggle"
    else:
        folder = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "kaggle"
    values: dict[str, Any] = {}
    path = folder / "kaggle.json"
    if path.is_file():
        try:
            values = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise NoCredentials(f"{path}: not valid JSON ({e.msg}); download a new one from kaggle.com/settings") from e
        if not isinstance(values, dict):
            raise NoCredentials(f'{path}: expected {{"username": ..., "key": ...}}')
    username = os.environ.get("KAGGLE_USERNAME") or values.get("username")
    key = os.environ.get("KAGGLE_KEY") or values.get("key")
    if username and key:
        source = "KAGGLE_USERNAME/KAGGLE_KEY" if os.environ.get("KAGGLE_KEY") else str(path)
        return Credentials(str(username), key=str(key), source=source)
    raise NoCredentials(
        "no Kaggle credentials: put kaggle.json (kaggle.com > Settings > API > Create New Token) in ~/.kaggle "
        "or set KAGGLE_API_TOKEN; or try kr locally: `kr emulator serve --state st` and then "
        "KR_KAGGLE_URL=http://127.0.0.1:7777 KAGGLE_CONFIG_DIR=st kr ..."
    )


def _sleep_for(attempt: int, retry_after: str | None, base: float) -> float:
    if retry_after:
        try:
            seconds = float(retry_after)
            if math.isfinite(seconds) and seconds >= 0:  # `-5` or `nan` from a server: jitter, never a crash
                return min(seconds, 300.0)
        except ValueError:
            from email.utils import parsedate_to_datetime

            try:
                return max(0.0, min(parsedate_to_datetime(retry_after).timestamp() - time.time(), 300.0))
            except (TypeError, ValueError):
                pass
    return random.uniform(0, min(60.0, base * 2**attempt))  # full jitter


KAGGLE_API = "https://api.kaggle.com"
KAGGLE_SITE = "https://www.kaggle.com"


class KaggleApi:
    """Typed kagglesdk calls against Kaggle or an emulator (`url`), with one retry policy."""

    def __init__(self, url: str | None = None, credentials: Credentials | None = None, retries: int = 8):
        from kagglesdk import KaggleClient, KaggleEnv

        self.creds = credentials or find_credentials()
        self.url = (url or KAGGLE_API).rstrip("/")
        self.retries = retries
        self.base_delay = float(os.environ.get("KR_RETRY_BASE_SECONDS", "1.0"))
        self.client = KaggleClient(
            env=KaggleEnv.PROD, username=self.creds.username, password=self.creds.key, api_token=self.creds.token
        )
        http = self.client._http_client
        http._endpoint = self.url  # PROD keeps paths at /v1/..., as api.kaggle.com serves them
        http._init_session()
        self.session: requests.Session = http._session
        # Signed upload and download URLs get no Kaggle credentials (they may point at another host), so they go
        # through a session of their own.
        self.plain = requests.Session()
        # (file name, bytes done, bytes in all) as uploads and downloads go; the CLI draws progress bars from it
        self.on_bytes: Callable[[str, int, int], None] = lambda name, done, total: None
        # what kr is waiting for on Kaggle's side, as it changes (None: the wait is over); the CLI shows a spinner
        self.on_wait: Callable[[str | None], None] = lambda text: None
        for session in (self.session, self.plain):
            adapter = _TimeoutAdapter(pool_maxsize=32)  # `kr wait`/`kr sweep` hold a log stream per live run
            session.mount("http://", adapter)
            session.mount("https://", adapter)

    def page(self, ref: str) -> str | None:
        """The web page of kernel owner/slug on the server kr talks to: Kaggle's; None for an emulator, which
        serves no web pages. Kaggle's page of one version is named by an id the API does not give, so this is the
        kernel's page, whose Versions tab lists them."""
        return f"{KAGGLE_SITE}/code/{ref}" if self.url == KAGGLE_API else None

    # -- one retry policy ------------------------------------------------------------------------
    def call(
        self, what: str, fn: Callable[[], T], idempotent: bool = True, took_effect: Callable[[], T | None] | None = None
    ) -> T:
        """Run fn with retries. For a non-idempotent call, after an ambiguous failure (5xx, dropped
        connection) `took_effect` is asked first: if it returns a value, the first attempt landed."""
        attempt = 0
        while True:
            try:
                return fn()
            except requests.HTTPError as e:
                status = e.response.status_code if e.response is not None else 0
                if status not in RETRYABLE or attempt >= self.retries:
                    raise self._error(what, e, status) from None
                retry_after = e.response.headers.get("Retry-After") if e.response is not None else None
                ambiguous = status != 429  # a 429 was refused before it ran
            except (requests.ConnectionError, requests.Timeout) as e:
                # nothing listening (a wrong --kaggle-url, an emulator not started) fails in seconds, not minutes
                refused = "refused" in str(e).lower()
                if attempt >= (min(self.retries, 2) if refused else self.retries):
                    reason = "connection refused" if refused else _reason(e)
                    raise KaggleError(
                        f"{what}: cannot reach {self.url} ({reason}) after {attempt + 1} attempts"
                    ) from None
                retry_after, ambiguous = None, True
            except AnswerTooLarge as e:
                raise KaggleError(f"{what}: {self.url} sent {e}; that is not a Kaggle answer") from None
            except (ValueError, KeyError, TypeError) as e:  # kagglesdk reading JSON, enums or fields it does not know
                raise KaggleError(
                    f"{what}: the answer from {self.url} could not be read ({type(e).__name__}: {e})"
                ) from None
            if ambiguous and not idempotent and took_effect is not None:
                found = self._quietly(took_effect)
                if found is not None:
                    return found
            time.sleep(_sleep_for(attempt, retry_after, self.base_delay))
            attempt += 1

    def _quietly(self, check: Callable[[], T | None]) -> T | None:
        try:
            return self.call("checking whether the last call took effect", check)
        except KaggleError:
            return None

    def _error(self, what: str, e: Any, status: int) -> KaggleError:
        message = str(e)
        try:
            message = e.response.json().get("message", message)
        except Exception:
            pass
        if status == 401:
            return KaggleError(
                f"{what}: Kaggle refused the credentials from {self.creds.source} (401); check the username and key"
            )
        error = KaggleError(f"{what}: {message} (HTTP {status})")
        error.status = status
        return error

    def _or_none(self, what: str, fn: Callable[[], T]) -> T | None:
        """fn's answer, or None where Kaggle answers 404 (the thing does not exist, or not yet)."""

        def get() -> T | None:
            try:
                return fn()
            except requests.HTTPError as e:
                if e.response is not None and e.response.status_code == 404:
                    return None
                raise

        return self.call(what, get)

    # -- kernels ---------------------------------------------------------------------------------
    @property
    def _kernels(self) -> Any:
        return self.client.kernels.kernels_api_client

    def save_kernel(self, push: KernelPush, took_effect: Callable[[], Saved | None]) -> Saved:
        """SaveKernel; `took_effect` tells whether a call cut off by the network landed (a Saved, else None)."""
        from kagglesdk.kernels.types.kernels_api_service import ApiSaveKernelRequest

        req = ApiSaveKernelRequest.from_dict(push.body())
        resp = self.call(
            "pushing the kernel", lambda: self._kernels.save_kernel(req), idempotent=False, took_effect=took_effect
        )
        if isinstance(resp, Saved):
            return resp
        dropped = [
            *(resp.invalid_dataset_sources or []),
            *(resp.invalid_competition_sources or []),
            *(resp.invalid_kernel_sources or []),
            *(resp.invalid_model_sources or []),
        ]
        if not resp.error and not resp.version_number:
            raise KaggleError(f"pushing the kernel: {self.url} answered with neither a version nor an error")
        return Saved(version=resp.version_number or None, error=resp.error or None, dropped=tuple(dropped))

    def get_kernel(self, owner: str, slug: str) -> Any | None:
        """The kernel's metadata, or None if it does not exist (yet)."""
        from kagglesdk.kernels.types.kernels_api_service import ApiGetKernelRequest

        req = ApiGetKernelRequest()
        req.user_name, req.kernel_slug = owner, slug
        return self._or_none(f"reading kernel {owner}/{slug}", lambda: self._kernels.get_kernel(req))

    def current_version(self, ref: str) -> int | None:
        """The newest version number of kernel owner/slug; None for a kernel Kaggle does not have."""
        owner, _, slug = ref.partition("/")
        k = self.get_kernel(owner, slug)
        return (k.metadata.current_version_number or None) if k is not None else None

    def kernel_status(self, owner: str, slug: str, version: int) -> tuple[str, str | None]:
        """(status, failure message) of the session of that kernel version."""
        from kagglesdk.kernels.types.kernels_api_service import ApiGetKernelSessionStatusRequest

        req = ApiGetKernelSessionStatusRequest()
        req.user_name, req.kernel_slug, req.version_label = owner, slug, f"v{version}"
        resp = self.call(f"status of {owner}/{slug} v{version}", lambda: self._kernels.get_kernel_session_status(req))
        return resp.status.name, resp.failure_message or None

    def list_output(self, owner: str, slug: str, version: int, page_token: str = "", page_size: int = 500) -> Any:
        """One page of a kernel version's outputs, with its persisted log."""
        from kagglesdk.kernels.types.kernels_api_service import ApiListKernelSessionOutputRequest

        req = ApiListKernelSessionOutputRequest()
        req.user_name, req.kernel_slug, req.version_label = owner, slug, f"v{version}"
        req.page_size, req.page_token = page_size, page_token
        return self.call(
            f"listing the output of {owner}/{slug} v{version}", lambda: self._kernels.list_kernel_session_output(req)
        )

    def cancel(self, session_id: int) -> str | None:
        """CancelKernelSession; Kaggle's error message, or None when it cancelled."""
        from kagglesdk.kernels.types.kernels_api_service import ApiCancelKernelSessionRequest

        req = ApiCancelKernelSessionRequest()
        req.kernel_session_id = session_id
        return (
            self.call("cancelling the session", lambda: self._kernels.cancel_kernel_session(req)).error_message or None
        )

    def quota(self) -> dict[str, Any]:
        """Accelerator time this week (GetAcceleratorQuotaStatistics): {gpu: {used, reserved, allowed} in seconds,
        tpu: ..., refresh: datetime or None}."""
        from kagglesdk.kernels.types.kernels_api_service import ApiGetAcceleratorQuotaStatisticsRequest

        req = ApiGetAcceleratorQuotaStatisticsRequest()
        resp = self.call("reading the accelerator quota", lambda: self._kernels.get_accelerator_quota_statistics(req))

        fields = (("used", "time_used"), ("reserved", "time_reserved"), ("allowed", "total_time_allowed"))

        def seconds(q: Any) -> dict[str, float]:
            return {name: (getattr(q, attr, None) or dt.timedelta()).total_seconds() for name, attr in fields}

        return {"gpu": seconds(resp.gpu_quota), "tpu": seconds(resp.tpu_quota), "refresh": resp.quota_refresh_time}

    def log_stream(self, owner: str, slug: str, version: int) -> Iterator[dict[str, Any]]:
        """Events of the live log (SSE while running, the JSON log once finished)."""
        url = f"{self.url}/v1/kernels/logs/stream/{owner}/{slug}"
        r = self.call(
            "opening the log stream",
            lambda: _checked(
                self.session.get(
                    url,
                    params={"versionLabel": f"v{version}"},
                    headers={"Accept": "text/event-stream, */*"},
                    stream=True,
                    timeout=(10, 300),
                )
            ),
        )
        with r:
            try:
                if "text/event-stream" not in r.headers.get("Content-Type", ""):
                    yield from parse_log(r.text)
                    return
                for line in _lines_as_they_come(r.raw):
                    if not line or not line.startswith("data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == "END_OF_LOG":
                        return
                    try:
                        yield json.loads(payload)
                    except json.JSONDecodeError:
                        yield {"stream_name": "stdout", "data": payload + "\n"}
            except (requests.RequestException, urllib3.exceptions.HTTPError) as e:  # dropped mid-stream
                raise KaggleError(f"the log stream of {owner}/{slug} v{version} broke ({type(e).__name__})") from None

    def download(self, url: str, dest: Path) -> None:
        """Stream a signed file URL to dest (no Kaggle auth, like the official CLI)."""

        def get() -> None:
            with self.plain.get(url, stream=True, timeout=TIMEOUT) as r:
                _save(_checked(r), dest, lambda done, total: self.on_bytes(dest.name, done, total))

        self.call(f"downloading {dest.name}", get)

    # -- uploads ---------------------------------------------------------------------------------
    def upload_file(self, path: Path, name: str, hasher: Any = None, kind: str = "DATASET") -> str:
        """StartBlobUpload + a streamed, resumable PUT of the file; returns the blob token for Create* calls.
        `hasher` (a hashlib object) sees every byte of the file once, so the upload is also the hash pass; `kind` is
        the blob's type (DATASET, MODEL)."""
        from kagglesdk.blobs.types.blob_api_service import ApiBlobType, ApiStartBlobUploadRequest

        st = path.stat()
        req = ApiStartBlobUploadRequest()
        req.type, req.name, req.content_length = ApiBlobType[kind], name, st.st_size
        req.last_modified_epoch_seconds = int(st.st_mtime)
        start = self.call(
            f"starting the upload of {name}", lambda: self.client.blobs.blob_api_client.start_blob_upload(req)
        )
        self.put_file(start.create_url, path, name, hasher)
        return start.token

    def put_file(self, url: str, path: Path, name: str, hasher: Any = None) -> None:
        """A streamed PUT to a signed upload URL. After a drop, 5xx or 429 (waiting as Retry-After says) it asks
        how much arrived (the GCS resumable protocol) and sends the rest; bytes already hashed are not hashed again."""
        size = path.stat().st_size
        offset, attempt = 0, 0
        progress = _Hashed(hasher)
        while True:
            retry_after = None
            try:
                with open(path, "rb") as f:
                    f.seek(offset)
                    headers = {"Content-Range": f"bytes {offset}-{size - 1}/{size}"} if offset else {}
                    body = (
                        _Reading(f, offset, size, progress, lambda done: self.on_bytes(name, done, size))
                        if size
                        else b""
                    )
                    r = self.plain.put(url, data=body, headers=headers, timeout=UPLOAD_TIMEOUT)
                if r.status_code in (200, 201):
                    progress.finish(path, size)
                    return
                if r.status_code not in (308, *RETRYABLE):
                    raise KaggleError(f"uploading {name}: HTTP {r.status_code} {r.text[:200]}")
                retry_after = r.headers.get("Retry-After")
            except (requests.ConnectionError, requests.Timeout):
                pass
            if attempt >= self.retries:
                raise KaggleError(f"uploading {name}: gave up after {attempt + 1} attempts")
            time.sleep(_sleep_for(attempt, retry_after, self.base_delay))
            attempt += 1
            try:  # how much arrived?
                probe = self.plain.put(url, data=b"", headers={"Content-Range": f"bytes */{size}"}, timeout=TIMEOUT)
            except (requests.ConnectionError, requests.Timeout):
                continue
            if probe.status_code in (200, 201):
                progress.finish(path, size)
                return
            rng = probe.headers.get("Range", "")
            offset = int(rng.rsplit("-", 1)[1]) + 1 if probe.status_code == 308 and rng else 0

    # -- datasets --------------------------------------------------------------------------------
    @property
    def _datasets(self) -> Any:
        return self.client.datasets.dataset_api_client

    def dataset_status(self, owner: str, slug: str) -> tuple[int | None, str | None]:
        """(current version, processing status such as READY) of a dataset; (None, None) if it does not exist."""
        from kagglesdk.datasets.types.dataset_api_service import ApiGetDatasetRequest, ApiGetDatasetStatusRequest

        req = ApiGetDatasetRequest()
        req.owner_slug, req.dataset_slug = owner, slug
        sreq = ApiGetDatasetStatusRequest()
        sreq.owner_slug, sreq.dataset_slug = owner, slug

        def get() -> tuple[int | None, str | None]:
            ds = self._datasets.get_dataset(req)
            return ds.current_version_number, self._datasets.get_dataset_status(sreq).status.name

        return self._or_none(f"reading dataset {owner}/{slug}", get) or (None, None)

    def dataset_version_noted(self, owner: str, slug: str, notes: str, above: int) -> int | None:
        """The newest version of dataset owner/slug numbered above `above` whose notes are `notes` (how kr knows its
        own upload); where Kaggle lists no versions, the newest above `above`. None: no such version (yet)."""
        from kagglesdk.datasets.types.dataset_api_service import ApiGetDatasetRequest

        req = ApiGetDatasetRequest()
        req.owner_slug, req.dataset_slug = owner, slug
        ds = self._or_none(f"reading dataset {owner}/{slug}", lambda: self._datasets.get_dataset(req))
        if ds is None:
            return None
        if not ds.versions:
            current = ds.current_version_number or 0
            return current if current > above else None
        mine = [v.version_number for v in ds.versions if v is not None and v.version_notes == notes]
        return max((n for n in mine if n > above), default=None)

    def create_dataset(
        self, owner: str, slug: str, title: str, tokens: list[str], took_effect: Callable[[], Any]
    ) -> None:
        """A new private dataset from uploaded blobs (CreateDataset); never sent twice blindly."""
        from kagglesdk.datasets.types.dataset_api_service import ApiCreateDatasetRequest

        req = ApiCreateDatasetRequest()
        req.owner_slug, req.slug, req.title, req.is_private = owner, slug, title, True
        req.license_name, req.files = "unknown", _new_files(tokens)
        resp = self.call(
            f"creating dataset {owner}/{slug}",
            lambda: self._datasets.create_dataset(req),
            idempotent=False,
            took_effect=took_effect,
        )
        _accepted(resp, f"{owner}/{slug}")

    def create_dataset_version(
        self, owner: str, slug: str, notes: str, tokens: list[str], took_effect: Callable[[], Any]
    ) -> None:
        """A new version of an existing dataset from uploaded blobs (CreateDatasetVersion)."""
        from kagglesdk.datasets.types.dataset_api_service import (
            ApiCreateDatasetVersionRequest,
            ApiCreateDatasetVersionRequestBody,
        )

        body = ApiCreateDatasetVersionRequestBody()
        body.version_notes, body.files = notes, _new_files(tokens)
        req = ApiCreateDatasetVersionRequest()
        req.owner_slug, req.dataset_slug, req.body = owner, slug, body
        resp = self.call(
            f"versioning dataset {owner}/{slug}",
            lambda: self._datasets.create_dataset_version(req),
            idempotent=False,
            took_effect=took_effect,
        )
        _accepted(resp, f"{owner}/{slug}")

    def dataset_metadata(self, owner: str, slug: str) -> dict[str, Any] | None:
        """A dataset's settings (title, subtitle, description, isPrivate, licenses); None if it does not exist."""
        from kagglesdk.datasets.types.dataset_api_service import ApiGetDatasetMetadataRequest

        req = ApiGetDatasetMetadataRequest()
        req.owner_slug, req.dataset_slug = owner, slug
        resp = self._or_none(f"reading {owner}/{slug}'s metadata", lambda: self._datasets.get_dataset_metadata(req))
        if resp is None or resp.info is None:
            return None
        info = resp.info
        return {
            "title": info.title or "",
            "subtitle": info.subtitle or "",
            "description": info.description or "",
            "isPrivate": bool(info.is_private),
            "licenses": [{"name": lic.name} for lic in (info.licenses or []) if lic.name],
        }

    def update_dataset_metadata(self, owner: str, slug: str, settings: dict[str, Any]) -> None:
        """Replace a dataset's settings (UpdateDatasetMetadata, as `kaggle datasets metadata --update` sends them:
        every field, since Kaggle replaces them all)."""
        from kagglesdk.datasets.types.dataset_api_service import ApiUpdateDatasetMetadataRequest
        from kagglesdk.datasets.types.dataset_types import DatasetSettings

        req = ApiUpdateDatasetMetadataRequest()
        req.owner_slug, req.dataset_slug = owner, slug
        req.settings = DatasetSettings.from_dict(settings)
        resp = self.call(f"updating {owner}/{slug}'s metadata", lambda: self._datasets.update_dataset_metadata(req))
        if resp.errors:
            raise KaggleError(f"Kaggle refused the update of {owner}/{slug}: {'; '.join(resp.errors)}")

    # -- competitions ----------------------------------------------------------------------------
    @property
    def _competitions(self) -> Any:
        return self.client.competitions.competition_api_client

    def start_submission_upload(self, competition: str, path: Path) -> Any:
        """StartSubmissionUpload: where to send the file, and the token that names it afterwards."""
        from kagglesdk.competitions.types.competition_api_service import ApiStartSubmissionUploadRequest

        req = ApiStartSubmissionUploadRequest()
        req.competition_name, req.file_name = competition, path.name
        req.content_length, req.last_modified_epoch_seconds = path.stat().st_size, int(path.stat().st_mtime)
        return self.call(
            f"starting the upload to {competition}", lambda: self._competitions.start_submission_upload(req)
        )

    def create_submission(self, competition: str, token: str, description: str, took_effect: Callable[[], Any]) -> Any:
        """CreateSubmission of an uploaded file; `took_effect` tells whether a call cut off by the network landed."""
        from kagglesdk.competitions.types.competition_api_service import ApiCreateSubmissionRequest

        req = ApiCreateSubmissionRequest()
        req.competition_name, req.blob_file_tokens, req.submission_description = competition, token, description
        return self.call(
            f"submitting to {competition}",
            lambda: self._competitions.create_submission(req),
            idempotent=False,
            took_effect=took_effect,
        )

    def create_code_submission(
        self,
        competition: str,
        kernel: tuple[str, str, int],
        file_name: str,
        description: str,
        took_effect: Callable[[], Any],
    ) -> Any:
        """Submit a kernel version (owner, slug, version) to a code competition: Kaggle re-runs it on the hidden
        test set and scores its output file `file_name` (docs/kaggle-facts.md, "Competitions")."""
        from kagglesdk.competitions.types.competition_api_service import ApiCreateCodeSubmissionRequest

        req = ApiCreateCodeSubmissionRequest()
        req.competition_name, req.file_name, req.submission_description = competition, file_name, description
        req.kernel_owner, req.kernel_slug, req.kernel_version = kernel
        return self.call(
            f"submitting {kernel[0]}/{kernel[1]} v{kernel[2]} to {competition}",
            lambda: self._competitions.create_code_submission(req),
            idempotent=False,
            took_effect=took_effect,
        )

    def is_code_competition(self, competition: str) -> bool | None:
        """Whether the competition takes only kernel versions (ApiCompetition.isKernelsSubmissionsOnly, found by
        ListCompetitions' search); None when the search does not find it."""
        from kagglesdk.competitions.types.competition_api_service import ApiListCompetitionsRequest

        req = ApiListCompetitionsRequest()
        req.search = competition
        resp = self.call(f"looking up {competition}", lambda: self._competitions.list_competitions(req))
        for c in resp.competitions or []:
            if (c.ref or "").rstrip("/").rsplit("/", 1)[-1] == competition:
                return bool(c.is_kernels_submissions_only)
        return None

    def get_submission(self, ref: int) -> Any | None:
        """The submission, or None while Kaggle does not know it yet (404, as the official CLI treats it)."""
        from kagglesdk.competitions.types.competition_api_service import ApiGetSubmissionRequest

        req = ApiGetSubmissionRequest()
        req.ref = ref
        return self._or_none(f"reading submission {ref}", lambda: self._competitions.get_submission(req))

    def submissions_left(self, competition: str) -> tuple[int, int] | None:
        """(submissions left today, made today) for the caller (GetSubmissionLimits, as `kaggle competitions
        submission-limits` asks, kaggle-cli PR #1144); None where the server does not answer it (404)."""
        from kagglesdk.competitions.types.competition_api_service import ApiGetSubmissionLimitsRequest

        req = ApiGetSubmissionLimitsRequest()
        req.competition_name = competition
        limits = self._or_none(
            f"reading today's submission limit of {competition}", lambda: self._competitions.get_submission_limits(req)
        )
        return (int(limits.num_allowed_now or 0), int(limits.num_today or 0)) if limits is not None else None

    def _every_page(self, what: str, page: Callable[[str], Any], items: Callable[[Any], list[Any]]) -> list[Any]:
        """Every item of a paged listing: `page(token)` asks for one page, `items` takes its items out."""
        out: list[Any] = []
        token = ""
        for _ in range(MAX_PAGES):
            resp = self.call(what, lambda token=token: page(token))  # type: ignore[misc]
            out.extend(items(resp))
            token = resp.next_page_token or ""
            if not token:
                return out
        raise KaggleError(f"{what}: Kaggle kept answering with another page ({MAX_PAGES} pages)")

    def list_submissions(self, competition: str) -> list[Any]:
        """Every submission of the user's team to the competition, newest first (all pages)."""
        from kagglesdk.competitions.types.competition_api_service import ApiListSubmissionsRequest

        def page(token: str) -> Any:
            req = ApiListSubmissionsRequest()
            req.competition_name, req.page_size, req.page_token = competition, 100, token
            return self._competitions.list_submissions(req)

        return self._every_page(f"listing submissions to {competition}", page, lambda r: r.submissions or [])

    def download_submission(self, ref: int, dest: Path) -> bool:
        """Download the file submission `ref` sent (the user's team's, a teammate's included); False if Kaggle has
        none for it."""
        from kagglesdk.competitions.types.competition_api_service import ApiDownloadSubmissionRequest

        req = ApiDownloadSubmissionRequest()
        req.submission_id = ref
        return self._redirected(
            f"downloading the file of submission {ref}", self._competitions.download_submission, req, dest
        )

    # -- models ----------------------------------------------------------------------------------
    @property
    def _models(self) -> Any:
        return self.client.models.model_api_client

    def model_exists(self, owner: str, slug: str) -> bool:
        """Whether Kaggle has model owner/slug that this user can see."""
        from kagglesdk.models.types.model_api_service import ApiGetModelRequest

        req = ApiGetModelRequest()
        req.owner_slug, req.model_slug = owner, slug
        return self._or_none(f"reading model {owner}/{slug}", lambda: self._models.get_model(req)) is not None

    def create_model(self, owner: str, slug: str, title: str) -> None:
        """CreateModel, private; an answer's `error` is a KaggleError."""
        from kagglesdk.models.types.model_api_service import ApiCreateModelRequest

        req = ApiCreateModelRequest()
        req.owner_slug, req.slug, req.title, req.is_private = owner, slug, title, True
        resp = self.call(f"creating model {owner}/{slug}", lambda: self._models.create_model(req), idempotent=False)
        if resp.error:
            raise KaggleError(f"creating model {owner}/{slug}: {resp.error}")

    def model_version(self, instance: tuple[str, str, str, str]) -> int | None:
        """The newest version of model instance (owner, model, framework, variation); None if there is none."""
        from kagglesdk.models.types.model_api_service import ApiGetModelInstanceRequest

        req = ApiGetModelInstanceRequest()
        req.owner_slug, req.model_slug, req.framework, req.instance_slug = _instance_fields(instance)
        found = self._or_none(f"reading model {'/'.join(instance)}", lambda: self._models.get_model_instance(req))
        return int(found.version_number) if found is not None and found.version_number else None

    def model_files(self, instance: tuple[str, str, str, str], version: int) -> list[tuple[str, int]]:
        """(name, size) of every file of that model instance version."""
        from kagglesdk.models.types.model_api_service import ApiListModelInstanceVersionFilesRequest

        def page(token: str) -> Any:
            req = ApiListModelInstanceVersionFilesRequest()
            req.owner_slug, req.model_slug, req.framework, req.instance_slug = _instance_fields(instance)
            req.version_number, req.page_token = version, token
            return self._models.list_model_instance_version_files(req)

        files = self._every_page(f"listing the files of {'/'.join(instance)}/{version}", page, lambda r: r.files or [])
        return [(f.name, int(f.size)) for f in files]

    def create_model_version(
        self,
        instance: tuple[str, str, str, str],
        tokens: list[str],
        notes: str,
        before: int | None,
        sent: list[tuple[str, int]],
    ) -> int:
        """A new version of the model instance from uploaded blobs, after its newest one `before` (None: the instance
        is made, with CreateModelInstance); returns its number. A call cut off by the network counts as landed when
        a version newer than `before` holds exactly the files `sent` (name, size)."""
        from kagglesdk.models.types.model_api_service import (
            ApiCreateModelInstanceRequest,
            ApiCreateModelInstanceRequestBody,
            ApiCreateModelInstanceVersionRequest,
            ApiCreateModelInstanceVersionRequestBody,
        )

        owner, model, framework, variation = _instance_fields(instance)
        files = _new_files(tokens)
        req: Any
        if before is None:
            body: Any = ApiCreateModelInstanceRequestBody()
            body.instance_slug, body.framework, body.files, body.license_name = (
                variation,
                framework,
                files,
                "Apache 2.0",
            )
            req = ApiCreateModelInstanceRequest()
            req.owner_slug, req.model_slug, req.body = owner, model, body
            send = lambda: self._models.create_model_instance(req)  # noqa: E731
        else:
            body = ApiCreateModelInstanceVersionRequestBody()
            body.version_notes, body.files = notes, files
            req = ApiCreateModelInstanceVersionRequest()
            req.owner_slug, req.model_slug, req.framework, req.instance_slug, req.body = (
                owner,
                model,
                framework,
                variation,
                body,
            )
            send = lambda: self._models.create_model_instance_version(req)  # noqa: E731

        def took_effect() -> Any:
            newest = self.model_version(instance)
            if newest is None or (before is not None and newest <= before):
                return None
            return newest if sorted(self.model_files(instance, newest)) == sorted(sent) else None

        resp = self.call(f"publishing {'/'.join(instance)}", send, idempotent=False, took_effect=took_effect)
        if isinstance(resp, int):
            return resp
        if resp.error:
            raise KaggleError(f"publishing {'/'.join(instance)}: {resp.error}")
        number = str(resp.ref or "").rstrip("/").rsplit("/", 1)[-1]
        if not number.isdigit():
            raise KaggleError(f"publishing {'/'.join(instance)}: Kaggle's answer names no version ({resp.ref!r})")
        return int(number)

    def download_competition_file(self, competition: str, name: str, dest: Path) -> bool:
        """Download one competition data file (e.g. sample_submission.csv); False if the competition has none."""
        from kagglesdk.competitions.types.competition_api_service import ApiDownloadDataFileRequest

        req = ApiDownloadDataFileRequest()
        req.competition_name, req.file_name = competition, name
        return self._redirected(
            f"downloading {name} of {competition}", self._competitions.download_data_file, req, dest
        )

    def _redirected(self, what: str, rpc: Callable[[Any], Any], req: Any, dest: Path) -> bool:
        """Save the file an RPC answers with a redirect (kagglesdk follows it) to dest; False where Kaggle says 404."""

        def get() -> bool:
            r = rpc(req)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with r:
                _save(r, dest, lambda done, total: self.on_bytes(dest.name, done, total))
            return True

        return bool(self._or_none(what, get))


def _lines_as_they_come(raw: Any) -> Iterator[str]:
    """The lines of a streamed body as soon as each is whole: requests' iter_lines waits for a full chunk, which
    holds back a short event (an SSE line) until more arrives or the stream ends."""
    pending: list[bytes] = []
    while chunk := raw.read1(65536):
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            pending.append(chunk[start:end])
            yield b"".join(pending).rstrip(b"\r").decode("utf-8", "replace")
            pending, start = [], end + 1
        if start < len(chunk):
            pending.append(chunk[start:])
    if pending:
        yield b"".join(pending).decode("utf-8", "replace")


def _new_files(tokens: list[str]) -> list[Any]:
    from kagglesdk.datasets.types.dataset_api_service import ApiDatasetNewFile

    files = []
    for token in tokens:
        f = ApiDatasetNewFile()
        f.token = token
        files.append(f)
    return files


def _accepted(resp: Any, ref: str) -> None:
    if resp is not True and str(getattr(resp, "status", "")).lower() != "ok":
        raise KaggleError(f"dataset {ref}: Kaggle refused the upload: {getattr(resp, 'error', None) or resp.status}")


def _save(r: Any, dest: Path, report: Callable[[int, int], None]) -> None:
    """A response body streamed to dest through a .part file, so a file that exists is complete; `report` gets the
    bytes written so far and the total (0 when the server does not say)."""
    tmp = dest.with_name(dest.name + ".part")
    total = int(r.headers.get("Content-Length") or 0) if not r.headers.get("Content-Encoding") else 0
    done = 0
    try:
        with open(tmp, "wb") as f:
            for chunk in r.iter_content(2**20):
                f.write(chunk)
                done += len(chunk)
                report(done, total)
        expected = r.headers.get("Content-Length")
        if expected is not None and not r.headers.get("Content-Encoding") and tmp.stat().st_size != int(expected):
            raise requests.ConnectionError("download cut short")
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()


class _Hashed:
    """How far into a file `hasher` has seen, across the attempts of one resumable upload."""

    def __init__(self, hasher: Any):
        self.hasher, self.upto = hasher, 0

    def feed(self, offset: int, data: bytes) -> None:
        if self.hasher is not None and offset + len(data) > self.upto:
            self.hasher.update(memoryview(data)[self.upto - offset :])  # offset <= upto: sent bytes were read first
            self.upto = offset + len(data)

    def finish(self, path: Path, size: int) -> None:
        """Hash what the server had before this process read it (a resumed upload that was already complete)."""
        if self.hasher is not None and self.upto < size:
            with open(path, "rb") as f:
                f.seek(self.upto)
                for block in iter(lambda: f.read(2**20), b""):
                    self.feed(self.upto, block)


class _Reading:
    """A PUT body: the file from `offset` to its end, read in blocks by the HTTP client and fed to the hash."""

    def __init__(self, f: BinaryIO, offset: int, size: int, hashed: _Hashed, report: Callable[[int], None]):
        self.f, self.pos, self.size, self.hashed, self.report = f, offset, size, hashed, report

    def __len__(self) -> int:
        return self.size - self.pos

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n if n and n > 0 else 2**20)
        self.hashed.feed(self.pos, data)
        self.pos += len(data)
        self.report(self.pos)
        return data


def _checked(r: Any) -> Any:
    r.raise_for_status()
    return r


def _reason(e: Exception) -> str:
    """A short cause for a failed request: the deadline's own words, else the kind of failure."""
    return str(e) if str(e).startswith(WHOLE_ANSWER) else type(e).__name__


class AnswerTooLarge(requests.RequestException):
    """An answer past MAX_ANSWER_BYTES: not something Kaggle sends, and reading on would fill the memory."""


class _TimeoutAdapter(HTTPAdapter):
    """requests adapter that applies a default timeout (kagglesdk passes none) and reads each answer that is not a
    stream within ANSWER_SECONDS and MAX_ANSWER_BYTES: a server that sends a byte now and then never trips the read
    timeout, and one that never stops would fill the memory."""

    def send(self, request: Any, stream: bool = False, **kw: Any) -> Any:  # type: ignore[override]
        if kw.get("timeout") is None:
            kw["timeout"] = TIMEOUT
        resp = super().send(request, stream=True, **kw)
        if stream:  # downloads: read by the caller in blocks, with progress
            return resp
        deadline, body = time.monotonic() + ANSWER_SECONDS, bytearray()
        try:
            while chunk := resp.raw.read1(2**16, decode_content=True):
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise AnswerTooLarge(f"an answer larger than {MAX_ANSWER_BYTES // 2**20} MiB", request=request)
                if time.monotonic() > deadline:
                    raise requests.Timeout(f"{WHOLE_ANSWER} {ANSWER_SECONDS:.0f} s", request=request)
        except BaseException as e:
            resp.close()  # the rest of this answer is still on the connection: it must not serve another request
            if isinstance(e, urllib3.exceptions.HTTPError):  # as requests maps them when it reads the body itself
                raise requests.ConnectionError(e, request=request) from e
            raise
        resp.raw.release_conn()
        resp._content = bytes(body)
        return resp


def _instance_fields(instance: tuple[str, str, str, str]) -> tuple[str, str, Any, str]:
    """(owner, model, framework as kagglesdk's enum, variation) from a model instance's path form."""
    from kagglesdk.models.types.model_enums import ModelFramework

    owner, model, framework, variation = instance
    key = framework.replace("_", "").lower()
    for member in ModelFramework:
        if member.name.removeprefix("MODEL_FRAMEWORK_").replace("_", "").lower() == key:
            return owner, model, member, variation
    raise KaggleError(f"'{framework}' is not a framework Kaggle knows (pytorch, transformers, keras, jax, other, ...)")
