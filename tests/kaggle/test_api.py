"""KaggleApi's one retry policy and its uploads, driven without Kaggle: fake failures for `call`, and small local
HTTP servers for the resumable PUT and the log stream."""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from kaggle_runner.kaggle import api as kaggle_api
from kaggle_runner.kaggle.api import Credentials, KaggleApi, KaggleError, KernelPush
from kaggle_runner.kaggle.pacing import poll_intervals

CREDS = Credentials("testuser", key="0" * 32, source="a test")


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(kaggle_api.time, "sleep", slept.append)
    return slept


def _api(url: str = "http://127.0.0.1:9", retries: int = 3) -> KaggleApi:
    return KaggleApi(url, CREDS, retries=retries)


def _http_error(status: int, headers: dict[str, str] | None = None, body: bytes = b'{"message": "nope"}') -> Exception:
    r = requests.Response()
    r.status_code, r._content = status, body
    r.headers.update(headers or {})
    return requests.HTTPError(f"HTTP {status}", response=r)


class Script:
    """A call that fails as scripted (exceptions, in order), then answers 'done'."""

    def __init__(self, *failures: Exception):
        self.failures, self.calls = list(failures), 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"


def test_a_429_waits_as_long_as_retry_after_says(sleeps: list[float]) -> None:
    fn = Script(_http_error(429, {"Retry-After": "7"}), _http_error(429, {"Retry-After": "2.5"}))
    assert _api().call("listing", fn) == "done"
    assert sleeps == [7.0, 2.5] and fn.calls == 3


def test_retry_after_as_an_http_date_and_capped_at_five_minutes(sleeps: list[float]) -> None:
    from email.utils import formatdate

    soon = formatdate(kaggle_api.time.time() + 30, usegmt=True)
    fn = Script(_http_error(429, {"Retry-After": soon}), _http_error(503, {"Retry-After": "86400"}))
    assert _api().call("listing", fn) == "done"
    assert 25 <= sleeps[0] <= 30 and sleeps[1] == 300.0


def test_a_retry_after_that_is_no_wait_is_jittered_instead(sleeps: list[float]) -> None:
    fn = Script(*[_http_error(429, {"Retry-After": v}) for v in ("-5", "nan", "-inf")])
    assert _api(retries=4).call("listing", fn) == "done"
    assert len(sleeps) == 3 and all(0 <= s <= 60 for s in sleeps), sleeps


def test_without_retry_after_the_wait_is_jittered_and_grows(sleeps: list[float], monkeypatch) -> None:
    monkeypatch.setenv("KR_RETRY_BASE_SECONDS", "1")
    fn = Script(*[_http_error(500) for _ in range(6)])
    _api(retries=8).call("status", fn)
    caps = [min(60.0, 2**n) for n in range(6)]
    assert all(0 <= s <= cap for s, cap in zip(sleeps, caps)) and len(sleeps) == 6
    assert max(sleeps[3:]) > 1.0  # full jitter over a growing window, not a fixed 1 s


def test_dropped_connections_and_timeouts_are_retried(sleeps: list[float]) -> None:
    fn = Script(requests.ConnectionError("reset by peer"), requests.Timeout("read timed out"))
    assert _api().call("status", fn) == "done" and fn.calls == 3


def test_giving_up_names_the_call_and_the_status(sleeps: list[float]) -> None:
    with pytest.raises(KaggleError, match=r"^pushing the kernel: nope \(HTTP 502\)$"):
        _api(retries=2).call("pushing the kernel", Script(*[_http_error(502)] * 5))
    assert len(sleeps) == 2
    with pytest.raises(KaggleError, match=r"cannot reach http://127.0.0.1:9 \(ConnectionError\) after 3 attempts"):
        _api(retries=2).call("status", Script(*[requests.ConnectionError()] * 5))


@pytest.mark.parametrize("status", [400, 403, 404, 409])
def test_client_errors_are_not_retried(sleeps: list[float], status: int) -> None:
    fn = Script(_http_error(status))
    with pytest.raises(KaggleError, match=f"HTTP {status}"):
        _api().call("pushing", fn)
    assert fn.calls == 1 and sleeps == []


def test_a_401_names_where_the_credentials_came_from(sleeps: list[float]) -> None:
    with pytest.raises(KaggleError, match="refused the credentials from a test"):
        _api().call("status", Script(_http_error(401)))


def test_a_non_idempotent_call_is_not_repeated_when_the_first_attempt_landed(sleeps: list[float]) -> None:
    fn, asked = Script(_http_error(500)), []
    out = _api().call("submitting", fn, idempotent=False, took_effect=lambda: asked.append(1) or "found it")
    assert out == "found it" and fn.calls == 1 and asked == [1]


def test_a_non_idempotent_call_is_repeated_only_after_checking(sleeps: list[float]) -> None:
    fn, asked = Script(requests.ConnectionError(), _http_error(503)), []
    out = _api().call("submitting", fn, idempotent=False, took_effect=lambda: asked.append(1))
    assert out == "done" and fn.calls == 3 and asked == [1, 1]


def test_a_429_is_repeated_without_asking_since_it_was_refused_before_running(sleeps: list[float]) -> None:
    fn, asked = Script(_http_error(429, {"Retry-After": "1"})), []
    assert _api().call("pushing", fn, idempotent=False, took_effect=lambda: asked.append(1)) == "done"
    assert asked == [] and fn.calls == 2


def test_poll_intervals_grow_by_half_to_a_cap_of_twelve_times_the_start() -> None:
    steps = list(itertools.islice(poll_intervals(5.0), 10))
    assert steps[:3] == [5.0, 7.5, 11.25] and steps == sorted(steps) and steps[-1] == 60.0
    assert list(itertools.islice(poll_intervals(0.1, cap_ratio=50), 30))[-1] == pytest.approx(5.0)


class _Upload(BaseHTTPRequestHandler):
    """A GCS-like resumable upload target. Scripted answers per PUT; a 'cut' answer reads half the body and drops
    the connection, as a flaky network would. Probes (`bytes */N`) answer 308 with the Range received so far."""

    script: list[str] = []
    received = bytearray()
    size = 0
    headers_seen: list[dict[str, str]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_PUT(self) -> None:
        cls = type(self)
        cls.headers_seen.append(dict(self.headers))
        length = int(self.headers.get("Content-Length") or 0)
        rng = self.headers.get("Content-Range", "")
        if rng.startswith("bytes */"):
            self._answer(308, {"Range": f"bytes=0-{len(cls.received) - 1}"} if cls.received else {})
            return
        step = cls.script.pop(0) if cls.script else "ok"
        if step == "cut":
            cls.received += self.rfile.read(length // 2)
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if step.startswith("429"):
            self.rfile.read(length)
            self._answer(429, {"Retry-After": step.split(":")[1]})
            return
        cls.received += self.rfile.read(length)
        self._answer(200 if len(cls.received) == cls.size else 308)

    def _answer(self, code: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def upload_server():
    _Upload.script, _Upload.received, _Upload.headers_seen = [], bytearray(), []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upload)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/upload/x"
    server.shutdown()
    server.server_close()


def test_a_dropped_upload_resumes_where_the_server_stopped_and_hashes_each_byte_once(
    upload_server: str, tmp_path: Path, sleeps: list[float]
) -> None:
    data = bytes(range(256)) * 4096 * 3  # 3 MiB
    f = tmp_path / "train.csv"
    f.write_bytes(data)
    _Upload.size, _Upload.script = len(data), ["cut", "429:4"]
    h = hashlib.sha256()
    api, moved = _api(), []
    api.on_bytes = lambda name, done, total: moved.append((name, done, total))
    api.put_file(upload_server, f, "train.csv", h)
    assert bytes(_Upload.received) == data
    assert moved[-1] == ("train.csv", len(data), len(data)) and len(moved) > 3  # what the progress bar draws
    assert h.hexdigest() == hashlib.sha256(data).hexdigest()
    assert 4.0 in sleeps  # the 429's Retry-After was honoured
    resumed = [hd["Content-Range"] for hd in _Upload.headers_seen if hd.get("Content-Range", "").startswith("bytes ")]
    assert any(not r.startswith("bytes */") and not r.startswith("bytes 0-") for r in resumed)
    assert all("Authorization" not in hd for hd in _Upload.headers_seen)  # signed URLs get no Kaggle credentials


def test_an_upload_refused_outright_is_one_clear_error(upload_server: str, tmp_path: Path, sleeps: list[float]) -> None:
    class Refuse(_Upload):
        def do_PUT(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._answer(403)

    f = tmp_path / "a.csv"
    f.write_text("id,x\n1,2\n")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(KaggleError, match="uploading a.csv: HTTP 403"):
            _api().put_file(f"http://127.0.0.1:{server.server_address[1]}/u", f, "a.csv")
    finally:
        server.shutdown()
        server.server_close()


def test_missing_things_are_none_not_errors(api, emulator) -> None:
    client = KaggleApi(emulator.url, Credentials(api.auth[0], key=api.auth[1]))
    assert client.get_kernel("testuser", "no-such-kernel") is None
    assert client.dataset_status("testuser", "no-such-data") == (None, None)
    assert client.get_submission(987654) is None
    assert client.download_competition_file("tiny-toxic", "nope.csv", Path("/nonexistent/x")) is False


def test_a_log_stream_cut_mid_way_is_a_kaggle_error(tmp_path: Path) -> None:
    class Cut(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            payload = b'data: {"stream_name": "stdout", "data": "epoch 1\\n"}\n\n'
            self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
            self.wfile.write(b"ff\r\nshort")  # a chunk cut short: the connection drops
            self.wfile.flush()
            self.connection.shutdown(2)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Cut)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        events = []
        with pytest.raises(KaggleError, match="the log stream of testuser/k v3 broke"):
            for e in _api(f"http://127.0.0.1:{server.server_address[1]}").log_stream("testuser", "k", 3):
                events.append(e)
        assert events == [{"stream_name": "stdout", "data": "epoch 1\n"}]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("chunked", [True, False])
def test_a_short_event_of_the_log_stream_comes_at_once(chunked: bool) -> None:
    release = threading.Event()

    class Slow(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding" if chunked else "Connection", "chunked" if chunked else "close")
            self.end_headers()
            for payload in (b'data: {"stream_name": "stdout", "data": "KR_RUN {}\\n"}\n\n', b"data: END_OF_LOG\n\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload) if chunked else payload)
                self.wfile.flush()
                release.wait(10)  # the next event only after the client has shown the first one
            if chunked:
                self.wfile.write(b"0\r\n\r\n")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        stream = _api(f"http://127.0.0.1:{server.server_address[1]}").log_stream("testuser", "k", 3)
        assert next(stream) == {"stream_name": "stdout", "data": "KR_RUN {}\n"}
        assert time.monotonic() - started < 5  # not held back until 512 bytes or the end arrive
        release.set()
        assert list(stream) == []
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_a_download_reports_its_bytes_as_they_land(tmp_path: Path) -> None:
    import functools
    from http.server import SimpleHTTPRequestHandler

    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "big.bin").write_bytes(b"x" * (3 * 2**20 + 5))
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path / "served"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api, moved = _api(), []
        api.on_bytes = lambda name, done, total: moved.append((name, done, total))
        api.download(f"http://127.0.0.1:{server.server_address[1]}/big.bin", tmp_path / "big.bin")
    finally:
        server.shutdown()
        server.server_close()
    size = 3 * 2**20 + 5
    assert (tmp_path / "big.bin").stat().st_size == size
    assert moved[0][1] < size and moved[-1] == ("big.bin", size, size)


def test_web_pages_come_from_the_server_kr_talks_to() -> None:
    """An emulator serves no web pages: kr says so rather than print a kaggle.com address that is not there."""
    assert KaggleApi(credentials=Credentials("testuser", "0" * 32)).page("testuser/main") == (
        "https://www.kaggle.com/code/testuser/main"
    )
    assert KaggleApi("http://127.0.0.1:7777", Credentials("testuser", "0" * 32)).page("testuser/main") is None


class _Hostile(BaseHTTPRequestHandler):
    """A server no Kaggle is: it trickles its answer, sends one without end, sends what kagglesdk cannot read, or an
    empty object."""

    mode = "trickle"

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        answers = {"unreadable": b'{"status": "NOT_A_STATUS_KAGGLE_HAS", "failureMessage": ""}', "empty": b"{}"}
        if self.mode in answers:
            body = answers[self.mode]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_header("Content-Length", str(2**40))
        self.end_headers()
        try:
            self.wfile.write(b"{")
            while True:
                self.wfile.write(b" " * (1 if self.mode == "trickle" else 2**20))
                self.wfile.flush()
                if self.mode == "trickle":
                    time.sleep(0.2)
        except OSError:  # the client gave up, as it should
            pass


@pytest.fixture
def hostile():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _serving(server: ThreadingHTTPServer, mode: str) -> str:
    _Hostile.mode = mode
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_an_answer_that_trickles_is_given_up_after_its_deadline(hostile, monkeypatch) -> None:
    """A byte now and then never trips the read timeout: kr waited for ever."""
    monkeypatch.setattr(kaggle_api, "ANSWER_SECONDS", 1.0)
    started = time.monotonic()
    with pytest.raises(KaggleError, match=r"cannot reach .* \(no whole answer within 1 s\) after 1 attempts"):
        _api(_serving(hostile, "trickle"), retries=0).get_kernel("testuser", "k")
    assert time.monotonic() - started < 10


def test_an_answer_without_end_is_refused_past_the_cap(hostile, monkeypatch, sleeps) -> None:
    monkeypatch.setattr(kaggle_api, "MAX_ANSWER_BYTES", 8 * 2**20)
    with pytest.raises(KaggleError, match="sent an answer larger than 8 MiB; that is not a Kaggle answer"):
        _api(_serving(hostile, "endless")).get_kernel("testuser", "k")
    assert sleeps == []  # not retried


def test_an_answer_kagglesdk_cannot_read_is_one_clear_error(hostile, sleeps) -> None:
    """An unknown session status was an `internal error` with a traceback hint."""
    with pytest.raises(KaggleError, match="the answer from .* could not be read"):
        _api(_serving(hostile, "unreadable")).kernel_status("testuser", "k", 1)


def test_a_save_that_makes_no_version_and_gives_no_reason_is_one_clear_error(hostile, sleeps) -> None:
    push = KernelPush("testuser/k", "A Kernel", "print(1)\n", "script", "cpu", False, [], [], [], [])
    with pytest.raises(KaggleError, match="pushing the kernel: .* answered with neither a version nor an error"):
        _api(_serving(hostile, "empty")).save_kernel(push, lambda: None)
