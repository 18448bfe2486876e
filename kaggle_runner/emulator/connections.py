"""The emulator's connections: one thread reads each request's header block without blocking, and a bounded pool of
workers handles requests whose headers are whole, so slow or idle clients hold no worker and cannot starve the rest."""

from __future__ import annotations

import io
import queue
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

HEADER_SECONDS = 10.0  # from a request's first byte to its blank line: a client trickling headers is dropped then
MAX_HEADER_BYTES = 64 * 1024
BODY_GRACE_SECONDS = 30.0  # a body may take this long, plus a second per MIN_BODY_RATE bytes
MIN_BODY_RATE = 16 * 1024  # bytes a second: far below any real upload, far above a client sending a byte now and then
WORKERS = 256  # log streams hold a worker for a whole session, so there are many; waiting clients hold none


@dataclass
class _Waiting:
    sock: socket.socket
    address: Any
    since: float  # when it was added, or when its first byte of the next request came
    buffer: bytearray = field(default_factory=bytearray)


def _headers_whole(buffer: bytes | bytearray) -> bool:
    return b"\r\n\r\n" in buffer or b"\n\n" in buffer


class Incoming(io.RawIOBase):
    """A request's bytes: what the waiting room already read, then the socket. Unbuffered, so nothing past this
    request is read from the socket, and what is left of the waiting room's bytes goes back with the connection.
    Reading the body slower than MIN_BODY_RATE (after BODY_GRACE_SECONDS) ends it with a TimeoutError."""

    def __init__(self, sock: socket.socket, prefix: bytes):
        self.sock, self.prefix = sock, prefix
        self.started, self.read_bytes = time.monotonic(), 0

    def readable(self) -> bool:
        return True

    def readline(self, size: int | None = -1) -> bytes:
        end = self.prefix.find(b"\n")
        if end >= 0 and (size is None or size < 0 or end < size):  # the header lines are all in the prefix
            line, self.prefix = self.prefix[: end + 1], self.prefix[end + 1 :]
            return line
        return super().readline(size)

    def readinto(self, b: Any) -> int:
        if self.prefix:
            n = min(len(b), len(self.prefix))
            b[:n] = self.prefix[:n]
            self.prefix = self.prefix[n:]
            return n
        allowed = BODY_GRACE_SECONDS + self.read_bytes / MIN_BODY_RATE
        if time.monotonic() - self.started > allowed:
            raise TimeoutError(f"request body slower than {MIN_BODY_RATE} bytes a second")
        n = self.sock.recv_into(b)
        self.read_bytes += n
        return n

    def leftover(self) -> bytes:
        """The bytes of the next request that came with this one (a pipelining client)."""
        return self.prefix


class Server(ThreadingHTTPServer):
    """An HTTP/1.1 server whose connections wait in one selector thread between requests. A connection gets a
    worker only once its header block is whole, and goes back to the waiting room after each answer; one idle for
    the handler's `timeout`, or whose headers take over HEADER_SECONDS, is closed there."""

    request_queue_size = 1024
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[Any]):
        self._selector = selectors.DefaultSelector()
        self._arrivals: queue.SimpleQueue[_Waiting] = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._ready: queue.Queue[_Waiting | None] = queue.Queue()
        self._closing = threading.Event()
        self._unix: socket.socket | None = None
        super().__init__(address, handler)  # binds, or closes (server_close) and raises
        self._pool = [threading.Thread(target=self._waiting_room, name="emulator-waiting", daemon=True)]
        self._pool += [
            threading.Thread(target=self._worker, name=f"emulator-worker-{i}", daemon=True) for i in range(WORKERS)
        ]
        for t in self._pool:
            t.start()

    def listen_unix(self, path: str) -> None:
        """Also take connections on a unix socket at `path`: the way in for kernels with internet, whose network
        namespace holds nothing of the host's (sandbox.py forwards their 127.0.0.1:port here)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        sock.listen(128)
        self._unix = sock

        def accept() -> None:
            while not self._closing.is_set():
                try:
                    conn, _ = sock.accept()
                except OSError:
                    return
                self.wait(conn, ("kernel", 0), b"")

        threading.Thread(target=accept, name="emulator-unix", daemon=True).start()

    # -- socketserver's hook: a new connection joins the waiting room -----------------------------------
    def process_request(self, request: Any, client_address: Any) -> None:
        self.wait(request, client_address, b"")

    def wait(self, sock: socket.socket, address: Any, buffered: bytes) -> None:
        """Put a connection in the waiting room until its next request's headers are whole."""
        waiting = _Waiting(sock, address, time.monotonic(), bytearray(buffered))
        if _headers_whole(waiting.buffer):
            self._ready.put(waiting)
            return
        self._arrivals.put(waiting)
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def server_close(self) -> None:
        self._closing.set()
        if self._unix is not None:
            _close(self._unix)
        for _ in range(WORKERS):
            self._ready.put(None)
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        super().server_close()

    # -- the waiting room ---------------------------------------------------------------------------------
    def _waiting_room(self) -> None:
        waiting: dict[int, _Waiting] = {}
        while not self._closing.is_set():
            for key, _ in self._selector.select(timeout=0.5):
                if key.data is None:
                    self._take_arrivals(waiting)
                    continue
                self._read_some(key.data, waiting)
            self._drop_overdue(waiting)
        for w in waiting.values():
            _close(w.sock)

    def _take_arrivals(self, waiting: dict[int, _Waiting]) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass
        while True:
            try:
                w = self._arrivals.get_nowait()
            except queue.Empty:
                return
            try:
                w.sock.setblocking(False)
                self._selector.register(w.sock, selectors.EVENT_READ, w)
                waiting[w.sock.fileno()] = w
            except (OSError, ValueError):
                _close(w.sock)

    def _read_some(self, w: _Waiting, waiting: dict[int, _Waiting]) -> None:
        try:
            data = w.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._leave(w, waiting)
            _close(w.sock)
            return
        if not w.buffer.strip():
            w.since = time.monotonic()  # the header clock starts at the request's first byte
        w.buffer += data
        if _headers_whole(w.buffer):
            self._leave(w, waiting)
            self._ready.put(w)
        elif len(w.buffer) > MAX_HEADER_BYTES:
            self._leave(w, waiting)
            _answer_and_close(w.sock, 431, "request headers too large")

    def _drop_overdue(self, waiting: dict[int, _Waiting]) -> None:
        now, idle = time.monotonic(), float(getattr(self.RequestHandlerClass, "timeout", None) or 120)
        for w in list(waiting.values()):
            if w.buffer.strip() and now - w.since > HEADER_SECONDS:
                self._leave(w, waiting)
                _answer_and_close(w.sock, 408, f"request headers not whole within {HEADER_SECONDS:.0f} s")
            elif not w.buffer.strip() and now - w.since > idle:
                self._leave(w, waiting)
                _close(w.sock)

    def _leave(self, w: _Waiting, waiting: dict[int, _Waiting]) -> None:
        waiting.pop(w.sock.fileno(), None)
        try:
            self._selector.unregister(w.sock)
        except (KeyError, ValueError, OSError):
            pass

    # -- the workers --------------------------------------------------------------------------------------
    def _worker(self) -> None:
        while True:
            w = self._ready.get()
            if w is None:
                return
            self._serve(w)

    def _serve(self, w: _Waiting) -> None:
        try:
            w.sock.setblocking(True)
            make: Any = self.RequestHandlerClass  # server.Handler, which takes the bytes read here
            handler = make(w.sock, w.address, self, bytes(w.buffer))
        except Exception:
            self.handle_error(w.sock, w.address)
            _close(w.sock)
            return
        if handler.close_connection or self._closing.is_set():
            _close(w.sock)
        else:
            self.wait(w.sock, w.address, handler.rfile.leftover())


def _answer_and_close(sock: socket.socket, code: int, message: str) -> None:
    body = f'{{"code": {code}, "message": "{message}"}}'.encode()
    head = f"HTTP/1.1 {code} {message}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    try:
        sock.setblocking(True)
        sock.settimeout(1)
        sock.sendall(head.encode() + b"Connection: close\r\n\r\n" + body)
    except OSError:
        pass
    _close(sock)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
