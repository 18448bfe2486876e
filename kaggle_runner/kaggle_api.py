"""The only module that talks to Kaggle: credentials, kagglesdk calls, retries and error mapping.
Retries 429 (honouring Retry-After), 5xx and dropped connections; never repeats a non-idempotent call blindly."""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import requests
from requests.adapters import HTTPAdapter

from kaggle_runner.errors import UserError

T = TypeVar("T")
RETRYABLE = (429, 500, 502, 503, 504)
TIMEOUT = (10, 120)  # connect, read: kagglesdk sets none, and a dead server must not hang `kr wait`


class KaggleError(UserError):
    exit_code = 1


class NoCredentials(UserError):
    pass


@dataclass
class Credentials:
    username: str | None
    key: str | None = None
    token: str | None = None
    source: str = ""


def find_credentials() -> Credentials:
    """Credentials in the order the official `kaggle` CLI reads them (kaggle-api.md §1.7)."""
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
            raise NoCredentials(f"{path}: expected {{\"username\": ..., \"key\": ...}}")
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
            return min(float(retry_after), 300.0)
        except ValueError:
            from email.utils import parsedate_to_datetime

            try:
                return max(0.0, min(parsedate_to_datetime(retry_after).timestamp() - time.time(), 300.0))
            except (TypeError, ValueError):
                pass
    return random.uniform(0, min(60.0, base * 2**attempt))  # full jitter


class KaggleApi:
    """Typed kagglesdk calls against Kaggle or an emulator (`url`), with one retry policy."""

    def __init__(self, url: str | None = None, credentials: Credentials | None = None, retries: int = 8):
        from kagglesdk import KaggleClient, KaggleEnv

        self.creds = credentials or find_credentials()
        self.url = (url or "https://api.kaggle.com").rstrip("/")
        self.retries = retries
        self.base_delay = float(os.environ.get("KR_RETRY_BASE_SECONDS", "1.0"))
        self.client = KaggleClient(env=KaggleEnv.PROD, username=self.creds.username, password=self.creds.key,
                                   api_token=self.creds.token)
        http = self.client._http_client
        http._endpoint = self.url  # PROD keeps paths at /v1/..., as api.kaggle.com serves them
        http._init_session()
        self.session: requests.Session = http._session
        adapter = _TimeoutAdapter()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    # -- one retry policy ------------------------------------------------------------------------
    def call(self, what: str, fn: Callable[[], T], idempotent: bool = True,
             took_effect: Callable[[], T | None] | None = None) -> T:
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
                if attempt >= self.retries:
                    raise KaggleError(f"{what}: cannot reach {self.url} ({type(e).__name__}) after "
                                      f"{attempt + 1} attempts") from None
                retry_after, ambiguous = None, True
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
            return KaggleError(f"{what}: Kaggle refused the credentials from {self.creds.source} (401); "
                               "check the username and key")
        return KaggleError(f"{what}: {message} (HTTP {status})")

    # -- kernels ---------------------------------------------------------------------------------
    @property
    def _kernels(self) -> Any:
        return self.client.kernels.kernels_api_client

    def save_kernel(self, body: dict[str, Any], took_effect: Callable[[], Any]) -> Any:
        from kagglesdk.kernels.types.kernels_api_service import ApiSaveKernelRequest

        req = ApiSaveKernelRequest.from_dict(body)
        return self.call("pushing the kernel", lambda: self._kernels.save_kernel(req), idempotent=False,
                         took_effect=took_effect)

    def get_kernel(self, owner: str, slug: str) -> Any | None:
        """The kernel's metadata, or None if it does not exist (yet)."""
        from kagglesdk.kernels.types.kernels_api_service import ApiGetKernelRequest

        req = ApiGetKernelRequest()
        req.user_name, req.kernel_slug = owner, slug

        def get() -> Any:
            try:
                return self._kernels.get_kernel(req)
            except requests.HTTPError as e:
                if e.response is not None and e.response.status_code == 404:
                    return None
                raise

        return self.call(f"reading kernel {owner}/{slug}", get)

    def kernel_status(self, owner: str, slug: str, version: int) -> tuple[str, str | None]:
        from kagglesdk.kernels.types.kernels_api_service import ApiGetKernelSessionStatusRequest

        req = ApiGetKernelSessionStatusRequest()
        req.user_name, req.kernel_slug, req.version_label = owner, slug, f"v{version}"
        resp = self.call(f"status of {owner}/{slug} v{version}", lambda: self._kernels.get_kernel_session_status(req))
        return resp.status.name, resp.failure_message or None

    def list_output(self, owner: str, slug: str, version: int, page_token: str = "", page_size: int = 500) -> Any:
        from kagglesdk.kernels.types.kernels_api_service import ApiListKernelSessionOutputRequest

        req = ApiListKernelSessionOutputRequest()
        req.user_name, req.kernel_slug, req.version_label = owner, slug, f"v{version}"
        req.page_size, req.page_token = page_size, page_token
        return self.call(f"listing the output of {owner}/{slug} v{version}",
                         lambda: self._kernels.list_kernel_session_output(req))

    def cancel(self, session_id: int) -> str | None:
        from kagglesdk.kernels.types.kernels_api_service import ApiCancelKernelSessionRequest

        req = ApiCancelKernelSessionRequest()
        req.kernel_session_id = session_id
        return self.call("cancelling the session", lambda: self._kernels.cancel_kernel_session(req)).error_message or None

    def log_stream(self, owner: str, slug: str, version: int) -> Iterator[dict[str, Any]]:
        """Events of the live log (SSE while running, the JSON log once finished)."""
        url = f"{self.url}/v1/kernels/logs/stream/{owner}/{slug}"
        r = self.call("opening the log stream", lambda: _checked(self.session.get(
            url, params={"versionLabel": f"v{version}"}, headers={"Accept": "text/event-stream, */*"},
            stream=True, timeout=(10, 300))))
        with r:
            if "text/event-stream" in r.headers.get("Content-Type", ""):
                for line in r.iter_lines(decode_unicode=True):
                    if not line or not line.startswith("data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == "END_OF_LOG":
                        return
                    try:
                        yield json.loads(payload)
                    except json.JSONDecodeError:
                        yield {"stream_name": "stdout", "data": payload + "\n"}
            else:
                yield from parse_log(r.text)

    def download(self, url: str, dest: Path) -> None:
        """Stream a signed file URL to dest (no Kaggle auth, like the official CLI)."""
        def get() -> None:
            with requests.get(url, stream=True, timeout=TIMEOUT) as r:
                _checked(r)
                tmp = dest.with_name(dest.name + ".part")
                with open(tmp, "wb") as f:
                    for chunk in r.iter_content(2**20):
                        f.write(chunk)
                expected = r.headers.get("Content-Length")
                if expected is not None and tmp.stat().st_size != int(expected):
                    raise requests.ConnectionError("download cut short")
                os.replace(tmp, dest)

        self.call(f"downloading {dest.name}", get)

    # -- competitions ----------------------------------------------------------------------------
    @property
    def _competitions(self) -> Any:
        return self.client.competitions.competition_api_client

    def start_submission_upload(self, competition: str, path: Path) -> Any:
        from kagglesdk.competitions.types.competition_api_service import ApiStartSubmissionUploadRequest

        req = ApiStartSubmissionUploadRequest()
        req.competition_name, req.file_name = competition, path.name
        req.content_length, req.last_modified_epoch_seconds = path.stat().st_size, int(path.stat().st_mtime)
        return self.call(f"starting the upload to {competition}", lambda: self._competitions.start_submission_upload(req))

    def create_submission(self, competition: str, token: str, description: str,
                          took_effect: Callable[[], Any]) -> Any:
        from kagglesdk.competitions.types.competition_api_service import ApiCreateSubmissionRequest

        req = ApiCreateSubmissionRequest()
        req.competition_name, req.blob_file_tokens, req.submission_description = competition, token, description
        return self.call(f"submitting to {competition}", lambda: self._competitions.create_submission(req),
                         idempotent=False, took_effect=took_effect)

    def get_submission(self, ref: int) -> Any | None:
        """The submission, or None while Kaggle does not know it yet (404, as the official CLI treats it)."""
        from kagglesdk.competitions.types.competition_api_service import ApiGetSubmissionRequest

        req = ApiGetSubmissionRequest()
        req.ref = ref

        def get() -> Any:
            try:
                return self._competitions.get_submission(req)
            except requests.HTTPError as e:
                if e.response is not None and e.response.status_code == 404:
                    return None
                raise

        return self.call(f"reading submission {ref}", get)

    def list_submissions(self, competition: str) -> list[Any]:
        """Every submission of the user to the competition, newest first (all pages)."""
        from kagglesdk.competitions.types.competition_api_service import ApiListSubmissionsRequest

        out, token = [], ""
        for _ in range(1000):
            req = ApiListSubmissionsRequest()
            req.competition_name, req.page_size, req.page_token = competition, 100, token
            resp = self.call(f"listing submissions to {competition}", lambda: self._competitions.list_submissions(req))
            out.extend(resp.submissions or [])
            token = resp.next_page_token or ""
            if not token:
                break
        return out

    def download_competition_file(self, competition: str, name: str, dest: Path) -> bool:
        """Download one competition data file (e.g. sample_submission.csv); False if the competition has none."""
        from kagglesdk.competitions.types.competition_api_service import ApiDownloadDataFileRequest

        req = ApiDownloadDataFileRequest()
        req.competition_name, req.file_name = competition, name

        def get() -> bool:
            try:
                r = self._competitions.download_data_file(req)
            except requests.HTTPError as e:
                if e.response is not None and e.response.status_code == 404:
                    return False
                raise
            tmp = dest.with_name(dest.name + ".part")
            dest.parent.mkdir(parents=True, exist_ok=True)
            with r, open(tmp, "wb") as f:
                for chunk in r.iter_content(2**20):
                    f.write(chunk)
            os.replace(tmp, dest)
            return True

        return self.call(f"downloading {name} of {competition}", get)


def parse_log(text: str) -> list[dict[str, Any]]:
    """Kaggle's persisted log (a JSON array of {stream_name, time, data}); other text as one event per line."""
    if not text.strip():
        return []
    try:
        events = json.loads(text)
        if isinstance(events, dict):
            events = [events]
        if isinstance(events, list) and all(isinstance(e, dict) for e in events):
            return events
    except json.JSONDecodeError:
        pass
    return [{"stream_name": "stdout", "data": line} for line in text.splitlines(keepends=True)]


def _checked(r: Any) -> Any:
    r.raise_for_status()
    return r


class _TimeoutAdapter(HTTPAdapter):
    """requests adapter that applies a default timeout (kagglesdk passes none)."""

    def send(self, request: Any, **kw: Any) -> Any:  # type: ignore[override]
        if kw.get("timeout") is None:
            kw["timeout"] = TIMEOUT
        return super().send(request, **kw)
