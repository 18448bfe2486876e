"""HTTP front of the emulator: routing, auth, request bodies, error envelope, faults and the request log.
Speaks docs/wire-protocol.md §1: POST /v1|/api/v1/{Service}/{Method}, absolute-form targets, signed file URLs."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from kaggle_runner.emulator.blobs import Blobs
from kaggle_runner.emulator.code_submissions import CodeSubmissions
from kaggle_runner.emulator.competitions import Competitions
from kaggle_runner.emulator.connections import Incoming, Server
from kaggle_runner.emulator.datasets import Datasets
from kaggle_runner.emulator.faults import Faults, Rule
from kaggle_runner.emulator.kernels import Kernels
from kaggle_runner.emulator.models import Models
from kaggle_runner.emulator.responses import FileResponse, FileUrls, Raw, Redirect, Stream
from kaggle_runner.emulator.search import Search
from kaggle_runner.emulator.store import Store
from kaggle_runner.emulator.wire import ApiError, Body, http_date
from kaggle_runner.errors import UserError

MAX_RPC_BODY = 64 * 2**20  # SaveKernel carries whole notebooks; anything bigger is a mistake


@dataclass
class Request:
    method: str
    route: str
    path: str
    query: dict[str, list[str]]
    headers: Any
    user: dict[str, Any] | None
    base_url: str
    handler: Handler

    def body_json(self) -> Any:
        """The JSON body; read from the socket once (a second read would wait for bytes that never come)."""
        if "_body" in self.__dict__:
            return self.__dict__["_body"]
        raw = self.handler.read_body(MAX_RPC_BODY)
        if not raw.strip():
            self.__dict__["_body"] = {}
            return {}
        try:
            self.__dict__["_body"] = json.loads(raw)
            return self.__dict__["_body"]
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ApiError(400, f"malformed JSON body: {e}") from e
        except RecursionError:
            raise ApiError(400, "malformed JSON body: nested too deeply") from None


Route = Callable[[Request], Any]


class Emulator:
    """A local Kaggle API server over a state folder."""

    def __init__(
        self,
        state_dir: Path | str,
        host: str = "127.0.0.1",
        port: int = 0,
        fallback_cpu: bool = False,
        faults: Faults | None = None,
        python: str | None = None,
        quiet: bool = True,
        unconfined: bool = False,
    ):
        """`unconfined` runs kernels on the host as the emulator's user, where namespaces are not allowed."""
        self.store = Store(state_dir)
        self.host, self.port = host, port
        self.faults = faults or Faults()
        self.quiet = quiet
        self.requests: list[dict[str, Any]] = []
        self._log_lock = threading.Lock()
        self._log_file: Any = None
        self.urls = FileUrls(self.store.secret, lambda: float(self.store.settings["file_url_seconds"]))
        self.blobs = Blobs(self.store)
        self.datasets = Datasets(self.store, self.blobs, self.urls)
        self.competitions = Competitions(self.store, self.blobs, self.urls)
        self.models = Models(self.store, self.blobs, self.urls)
        self.kernels = Kernels(
            self.store,
            self.datasets,
            self.competitions,
            self.models,
            self.urls,
            fallback_cpu=fallback_cpu,
            python=python or sys.executable,
            unconfined=unconfined,
        )
        self.code_submissions = CodeSubmissions(self.kernels, self.competitions)
        self.search = Search(self.store, self.competitions)
        self.rpc: dict[str, tuple[Route, bool]] = {}
        services = (self.blobs, self.datasets, self.competitions, self.models, self.kernels, self.code_submissions)
        for service in (*services, self.search):
            self.rpc.update(service.routes())
        self.rpc["security.OAuthService/IntrospectToken"] = (self.introspect_token, False)
        self.httpd: Server | None = None
        self._socket_dir: str | None = None
        self.thread: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> Emulator:
        """Listen and serve; refuses (UserError) where kernels cannot be confined, unless `unconfined`."""
        if not self.kernels.executor.unconfined:
            problem = self.kernels.executor.confinement_problem()
            if problem:
                raise UserError(
                    f"this machine cannot confine kernels like a Kaggle container ({problem}); "
                    "start the emulator with --unconfined to run them on the host as your own user"
                )
        self.competitions.check()
        handler = type("BoundHandler", (Handler,), {"emulator": self})
        self.httpd = Server((self.host, self.port), handler)
        self.port = self.httpd.server_address[1]
        self._socket_dir = tempfile.mkdtemp(prefix="kr-emulator-")  # short: a unix socket's path has 107 bytes
        self.httpd.listen_unix(os.path.join(self._socket_dir, "api.sock"))
        self.kernels.executor.api_url = self.url
        self.kernels.executor.api_socket = os.path.join(self._socket_dir, "api.sock")
        self.kernels.executor.recover()
        self.code_submissions.recover()
        self.competitions.recover()
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="emulator-http", daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        host = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        self.kernels.executor.shutdown()
        if self._socket_dir:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None
        with self._log_lock:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- the request log -------------------------------------------------------------------------
    def record(self, entry: dict[str, Any]) -> None:
        """Append to the request log (memory and requests.log): tests and benchmarks count calls with it."""
        with self._log_lock:
            self.requests.append(entry)
            if self._log_file is None:
                self._log_file = open(self.store.root / "requests.log", "a", encoding="utf-8", buffering=1)
            self._log_file.write(json.dumps(entry) + "\n")

    def introspect_token(self, req: Request) -> dict[str, Any]:
        token = Body(req.body_json()).str("token")
        user = self.store.user_by_token(token) if token else None
        if not user:
            return {"active": False}
        return {"active": True, "username": user["username"], "userId": user.get("id", 1)}

    # -- routing ---------------------------------------------------------------------------------
    def resolve(self, method: str, path: str) -> tuple[str, Route, bool]:
        """(route name, function, needs auth) for a request path."""
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["api"]:
            parts = parts[1:]
        if method == "POST" and len(parts) == 3 and parts[0] == "v1":
            name = f"{parts[1]}/{parts[2]}"
            if name in self.rpc:
                fn, auth = self.rpc[name]
                return name, fn, auth
            raise ApiError(404, f"unimplemented {name}")
        if method in ("GET", "HEAD") and parts[:4] == ["v1", "kernels", "logs", "stream"] and len(parts) == 6:
            return "kernels/logs/stream", self.kernels.logs_stream, True
        if method == "PUT" and len(parts) == 2 and parts[0] == "upload":
            return "blobs/upload", self.blobs.put, False
        if method in ("GET", "HEAD") and len(parts) >= 3 and parts[0] == "files":
            return "files", self.serve_file, False
        if method == "GET" and parts == ["_emulator", "health"]:
            return "health", lambda req: {"ok": True, "url": self.url}, False
        if method == "POST" and len(parts) == 3 and parts[0] == "v1":
            raise ApiError(404, f"unimplemented {parts[1]}/{parts[2]}")
        raise ApiError(404 if method in ("GET", "POST", "PUT", "HEAD") else 405, f"no route for {method} {path}")

    def serve_file(self, req: Request) -> FileResponse:
        parts = req.path.split("/")
        # /files/<sig>/<expires>/<kind>/<...>
        if len(parts) < 5:
            raise ApiError(403, "bad file signature")
        sig, expires, rel = parts[2], parts[3], unquote("/".join(parts[4:]))
        refusal = self.urls.refusal(sig, expires, rel)
        if refusal:
            raise ApiError(403, refusal)
        kind, _, rest = rel.partition("/")
        resolver = {
            "kernels": self.kernels.output_path,
            "datasets": self.datasets.download_path,
            "competitions": self.competitions.file_path,
            "submissions": self.competitions.submission_path,
            "models": self.models.download_path,
        }.get(kind)
        if resolver is None:
            raise ApiError(404, "no such file")
        return resolver(rest)


class Handler(BaseHTTPRequestHandler):
    """One request of a connection (connections.Server hands each connection back to its waiting room after it)."""

    protocol_version = "HTTP/1.1"
    server_version = "kaggle-emulator"
    timeout = 120  # an idle keep-alive connection is closed after this many seconds
    disable_nagle_algorithm = True  # headers and body are separate writes: Nagle + delayed ACK cost 40 ms each
    emulator: Emulator

    def __init__(self, request: Any, client_address: Any, server: Any, prefix: bytes = b""):
        self._prefix = prefix
        super().__init__(request, client_address, server)

    def setup(self) -> None:
        if self.request.family == socket.AF_UNIX:  # TCP_NODELAY is for TCP only
            setattr(self, "disable_nagle_algorithm", False)  # noqa: B010  # typeshed calls it a class variable
        super().setup()
        self.rfile = Incoming(self.connection, self._prefix)  # type: ignore[assignment]  # unbuffered: reads no further

    def handle(self) -> None:
        self.handle_one_request()

    def log_message(self, format: str, *args: Any) -> None:
        if not self.emulator.quiet:
            super().log_message(format, *args)

    def __getattr__(self, name: str) -> Any:
        # Every verb, known or not, goes through one dispatcher so all answers use the JSON envelope.
        if name.startswith("do_"):
            return lambda: self.dispatch(name[3:])
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors (bad request line, oversized headers) in the same JSON envelope."""
        self.close_connection = True
        try:
            self._send_json(code, {"code": code, "message": message or self.responses.get(code, ("error",))[0]})
        except OSError:
            pass

    # -- body ------------------------------------------------------------------------------------
    _body_read = False

    def body_chunks(self, limit: int | None = None) -> Iterator[bytes]:
        """The request body as it arrives: Content-Length or chunked transfer encoding."""
        self._body_read = True
        total = 0
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ConnectionError("connection closed inside a chunked body")
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError as e:
                    raise ApiError(400, "malformed chunked body") from e
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return
                total += size
                if limit is not None and total > limit:
                    self.close_connection = True
                    raise ApiError(413, f"request body larger than {limit} bytes")
                yield from self._read_exact(size)
                self.rfile.readline(16)
        else:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError as e:
                self.close_connection = True
                raise ApiError(400, "bad Content-Length") from e
            if length < 0:
                self.close_connection = True
                raise ApiError(400, "bad Content-Length")
            if limit is not None and length > limit:
                self.close_connection = True
                raise ApiError(413, f"request body larger than {limit} bytes")
            yield from self._read_exact(length)

    def _read_exact(self, size: int) -> Iterator[bytes]:
        while size:
            data = self.rfile.read(min(size, 2**20))
            if not data:
                raise ConnectionError("connection closed inside the request body")
            size -= len(data)
            yield data

    def read_body(self, limit: int) -> bytes:
        return b"".join(self.body_chunks(limit))

    def _drain(self) -> None:
        if not self._body_read:
            try:
                for _ in self.body_chunks(MAX_RPC_BODY):
                    pass
            except (ApiError, ConnectionError):
                self.close_connection = True

    # -- auth ------------------------------------------------------------------------------------
    def authenticate(self) -> dict[str, Any] | None:
        header = self.headers.get("Authorization", "")
        store = self.emulator.store
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, key = base64.b64decode(value.strip()).decode().partition(":")
            except Exception:
                return None
            return store.user_by_key(user, key)
        if scheme.lower() == "bearer":
            return store.user_by_token(value.strip())
        return None

    # -- dispatch --------------------------------------------------------------------------------
    def dispatch(self, method: str) -> None:
        self._body_read = False
        started = time.time()
        parts = urlsplit(self.path)  # absolute-form targets arrive when the emulator is used as a proxy
        path = parts.path or "/"
        route, status, rule = f"{method} {path}", 0, None
        self._rule = None
        length = self.headers.get("Content-Length", "")
        self._entry: dict[str, Any] | None = {
            "time": round(started, 3),
            "method": method,
            "route": route,
            "path": path,
            "status": 0,
            "bytes_in": int(length) if length.isdigit() else 0,
            "fault": None,
            "seconds": 0.0,
        }
        try:
            route, fn, needs_auth = self.emulator.resolve(method, path)
            self._entry["route"] = route
            rule = self._rule = self.emulator.faults.pick(route)
            if rule and self._inject_before(rule):
                status = int(rule.fault) if rule.fault.isdigit() else -1
                return
            user = self.authenticate()
            if needs_auth and user is None:
                raise ApiError(401, "Unauthenticated: unknown username/key or token")
            host = self.headers.get("Host") or f"{self.emulator.host}:{self.emulator.port}"
            base = f"{parts.scheme or 'http'}://{parts.netloc or host}"
            req = Request(method, route, path, parse_qs(parts.query), self.headers, user, base, self)
            result = fn(req)
            self._drain()
            if rule and rule.fault == "reset_after":
                status = -1
                self._reset()
                return
            status = self._send_result(result, method)
        except ApiError as e:
            self._drain()
            status = e.code
            self._send_json(e.code, {"code": e.code, "message": e.message}, e.headers)
        except (TimeoutError, ConnectionError, BrokenPipeError):
            status = -1
            self.close_connection = True
        except Exception as e:  # a bug in the emulator: answer 500 and keep serving
            status = 500
            import traceback

            traceback.print_exc()
            try:
                self._drain()
                self._send_json(500, {"code": 500, "message": f"emulator error: {type(e).__name__}: {e}"})
            except OSError:
                self.close_connection = True
        finally:
            self._log(status, rule)

    def _log(self, status: int, rule: Rule | None = None) -> None:
        """Record this request once, when its answer starts (so the log's order is the order clients saw)."""
        entry: dict[str, Any] | None = getattr(self, "_entry", None)
        if entry is None:
            return
        self._entry = None
        entry.update(
            status=status,
            fault=rule.fault if rule else entry.get("fault"),
            seconds=round(time.time() - entry["time"], 4),
        )
        self.emulator.record(entry)

    def send_response(self, code: int, message: str | None = None) -> None:
        self._log(code, getattr(self, "_rule", None))
        super().send_response(code, message)

    def _inject_before(self, rule: Rule) -> bool:
        """Apply a fault that happens before the request is handled; True if the request ends here."""
        if rule.fault == "slow":
            time.sleep(rule.delay)
            return False
        if rule.fault == "reset_after":
            return False
        self._drain()
        if rule.fault == "reset":
            self._reset()
            return True
        code = int(rule.fault)
        headers = {"Retry-After": str(int(rule.retry_after))} if code == 429 else {}
        self._send_json(code, {"code": code, "message": f"injected fault {code}"}, headers)
        return True

    def _reset(self) -> None:
        """Drop the connection with a TCP reset, as a flaky network would."""
        self._log(-1, self._rule)
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    # -- responses -------------------------------------------------------------------------------
    def _send_json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_result(self, result: Any, method: str) -> int:
        if isinstance(result, dict):
            self._send_json(200, result)
            return 200
        if isinstance(result, Redirect):
            self.send_response(302)
            self.send_header("Location", result.url)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return 302
        if isinstance(result, Raw):
            self.send_response(result.status)
            for k, v in (result.headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(result.body)))
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(result.body)
            return result.status
        if isinstance(result, FileResponse):
            return self._send_file(result, method)
        if isinstance(result, Stream):
            self.send_response(200)
            self.send_header("Content-Type", result.content_type)
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            for chunk in result.chunks:
                self.wfile.write(chunk)
                self.wfile.flush()
            return 200
        raise TypeError(f"route returned {type(result).__name__}")

    def _send_file(self, result: FileResponse, method: str) -> int:
        st = result.path.stat()
        size, start, end = st.st_size, 0, st.st_size - 1
        etag = f'"{st.st_size:x}-{int(st.st_mtime_ns):x}"'
        code = 200
        rng = self.headers.get("Range", "")
        if_range = self.headers.get("If-Range")
        if rng.startswith("bytes=") and (not if_range or if_range in (etag, http_date(st.st_mtime))):
            first, _, last = rng[6:].split(",")[0].partition("-")
            try:
                start = int(first) if first else max(0, size - int(last))
                end = int(last) if first and last else size - 1
            except ValueError:
                start, end = 0, size - 1
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return 416
            end = min(end, size - 1)
            code = 206
        length = max(0, end - start + 1)
        self.send_response(code)
        self.send_header("Content-Type", result.content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("Last-Modified", http_date(st.st_mtime))
        self.send_header("ETag", etag)
        self.send_header("Accept-Ranges", "bytes")
        if code == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if method == "HEAD":
            return code
        with open(result.path, "rb") as f:
            f.seek(start)
            left = length
            while left:
                data = f.read(min(left, 2**20))
                if not data:
                    break
                self.wfile.write(data)
                left -= len(data)
        return code


def serve(emulator: Emulator, announce: Callable[[str], None] = print) -> None:
    """Run until SIGINT/SIGTERM; the first line announced is the URL (tests and scripts read it)."""
    import signal

    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    emulator.start()
    announce(emulator.url)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
