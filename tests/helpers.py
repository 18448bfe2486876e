"""Helpers for the tests: the one project builder, raw API calls as kagglesdk makes them, state snapshots, and a
real MLflow server with a proxy in front of it that can stop answering."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
import yaml

from kaggle_runner.emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]
KR = [sys.executable, "-m", "kaggle_runner.cli"]  # `kr`, as the venv's console script runs it
HELLO = "print('hello')\n"


def local_index(folder: Path) -> dict[str, str]:
    """A package index in a folder, for code.requirements without the network: `krdemo-greet` (module krdemo_greet)
    needs `krdemo-words` and `six`; six stands for a package Kaggle's image has. Returns pip's environment for it."""
    folder.mkdir(parents=True, exist_ok=True)
    packages = {
        "krdemo-greet": (
            "1.0",
            ["krdemo-words", "six"],
            "from krdemo_words import WORD\ndef hello():\n    return WORD\n",
        ),
        "krdemo-words": ("2.0", [], "WORD = 'hello from a wheel'\n"),
        "six": ("99.0", [], ""),
    }
    for name, (version, deps, code) in packages.items():
        project = folder / "src" / name
        module = name.replace("-", "_")
        (project / module).mkdir(parents=True, exist_ok=True)
        (project / module / "__init__.py").write_text(code)
        (project / "pyproject.toml").write_text(
            '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
            f'[project]\nname = "{name}"\nversion = "{version}"\ndependencies = {json.dumps(deps)}\n'
        )
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-build-isolation",
                "-q",
                "-w",
                str(folder),
                str(project),
            ],
            check=True,
            capture_output=True,
        )
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(folder)}


def write_project(
    root: Path,
    kernels: dict[str, dict[str, Any]] | None = None,
    files: dict[str, str] | None = None,
    copy: tuple[str, ...] = (),
    git: bool = False,
    **config: Any,
) -> Path:
    """A kr project in `root`, as a user lays one out: kr.yaml from `config` (competition tiny-toxic unless given,
    `kernels` default: main in k/main.py), `files` written by relative path (default: k/main.py printing hello),
    folders of this repository copied in (`copy=("kernels/smoke",)`), and optionally a git repository."""
    root.mkdir(parents=True, exist_ok=True)
    if kernels is None:
        kernels = {"main": {"folder": "k", "entry": "main.py", "title": "Main Kernel"}}
        files = {"k/main.py": HELLO, **(files or {})}
    for rel in copy:
        shutil.copytree(ROOT / rel, root / rel)
    for rel, text in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    body = {"competition": "tiny-toxic", "kernels": kernels, **config}
    (root / "kr.yaml").write_text(yaml.safe_dump({k: v for k, v in body.items() if v is not None}, sort_keys=False))
    if git:
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        subprocess.run(
            ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "init", "--allow-empty"],
            cwd=root,
            check=True,
        )
    return root


class Kr:
    """`kr` as a user runs it: a subprocess in `project`, with a home of its own, against the emulator if given.
    Calling it runs one command and, unless check is None, asserts its exit code."""

    def __init__(self, project: Path, home: Path, emulator: Emulator | None = None):
        self.project = project
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("KAGGLE_", "KR_", "XNLI_"))}
        self.env.update(HOME=str(home), KR_POLL_SECONDS="0.2", KR_RETRY_BASE_SECONDS="0.02")
        if emulator is not None:
            self.env.update(KR_KAGGLE_URL=emulator.url, KAGGLE_CONFIG_DIR=str(emulator.store.root))

    def __call__(
        self,
        *args: str,
        check: int | None = 0,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess:
        r = subprocess.run(
            [*KR, *args],
            cwd=cwd or self.project,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**self.env, **(env or {})},
        )
        if check is not None:
            assert r.returncode == check, f"kr {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        """The command started, not waited for (stdout and stderr piped): for a test that acts while it runs."""
        return subprocess.Popen(
            [*KR, *args],
            cwd=self.project,
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


class Api:
    """Raw JSON-over-HTTP calls, as kagglesdk makes them."""

    def __init__(self, url: str, username: str, key: str):
        self.url, self.auth = url, (username, key)
        self.session = requests.Session()

    def call(self, rpc: str, body: Any = None, auth: Any = "default", prefix: str = "/v1") -> requests.Response:
        service = {
            "kernels": "kernels.KernelsApiService",
            "datasets": "datasets.DatasetApiService",
            "blobs": "blobs.BlobApiService",
            "competitions": "competitions.CompetitionApiService",
            "models": "models.ModelApiService",
        }
        group, _, method = rpc.partition(".")
        return self.session.post(
            f"{self.url}{prefix}/{service[group]}/{method}",
            json=body if body is not None else {},
            auth=self.auth if auth == "default" else auth,
            timeout=30,
        )

    def ok(self, rpc: str, body: Any = None) -> dict[str, Any]:
        r = self.call(rpc, body)
        assert r.status_code == 200, f"{rpc}: {r.status_code} {r.text}"
        return r.json()

    def push(self, slug: str, text: str, **fields: Any) -> dict[str, Any]:
        body = {
            "slug": f"testuser/{slug}",
            "newTitle": fields.pop("title", f"Kernel {slug}"),
            "text": text,
            "language": "python",
            "kernelType": "script",
            "isPrivate": True,
            **fields,
        }
        return self.ok("kernels.SaveKernel", body)

    def status(self, slug: str, version: int | None = None) -> dict[str, Any]:
        body = {"userName": "testuser", "kernelSlug": slug}
        if version:
            body["versionLabel"] = f"v{version}"
        return self.ok("kernels.GetKernelSessionStatus", body)

    def wait(
        self,
        slug: str,
        version: int | None = None,
        timeout: float = 60,
        until: tuple[str, ...] = ("COMPLETE", "ERROR", "CANCEL_ACKNOWLEDGED"),
    ) -> dict[str, Any]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = self.status(slug, version)
            if st.get("status", "QUEUED") in until:
                return st
            time.sleep(0.05)
        raise AssertionError(f"{slug} v{version} still {st} after {timeout}s")

    def upload(self, name: str, data: bytes) -> str:
        start = self.ok("blobs.StartBlobUpload", {"type": "DATASET", "name": name, "contentLength": len(data)})
        r = requests.put(start["createUrl"], data=data, timeout=30)
        assert r.status_code == 200, r.text
        return start["token"]

    def create_dataset(self, slug: str, files: dict[str, bytes], ready: bool = True) -> None:
        """CreateDataset of testuser/slug from these files; with `ready`, until its version is READY."""
        tokens = [{"token": self.upload(name, data)} for name, data in files.items()]
        body = {"ownerSlug": "testuser", "slug": slug, "title": f"Data {slug}", "files": tokens}
        r = self.ok("datasets.CreateDataset", body)
        assert r["status"] == "Ok", r
        if ready:
            assert self.wait_dataset(slug) == "READY", f"dataset {slug} not READY"

    def wait_dataset(self, slug: str, timeout: float = 60) -> str:
        """testuser/slug's status once its processing has ended: READY or FAILED."""
        deadline = time.time() + timeout
        while True:
            st = self.ok("datasets.GetDatasetStatus", {"ownerSlug": "testuser", "datasetSlug": slug})["status"]
            if st in ("READY", "FAILED") or time.time() > deadline:
                return st
            time.sleep(0.05)


def kagglehub(emulator: Emulator, home: Path, code: str, *args: str) -> list[str]:
    """Run `code` (argv: `args`) with kagglehub pointed at the emulator as testuser, its cache under `home`; the lines
    it printed that start with GOT."""
    c = creds(emulator)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE") and "PROXY" not in k.upper()}
    env.update(
        KAGGLE_USERNAME=c["username"],
        KAGGLE_KEY=c["key"],
        KAGGLE_API_ENVIRONMENT="LOCALHOST",
        HTTP_PROXY=emulator.url,
        KAGGLEHUB_CACHE=str(home / "cache"),
        HOME=str(home),
    )
    r = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return [line for line in r.stdout.splitlines() if line.startswith("GOT")]


def creds(em: Emulator) -> dict[str, str]:
    return json.loads((em.store.root / "kaggle.json").read_text())


def tree_digest(root: Path, skip: tuple[str, ...] = ("requests.log",)) -> dict[str, str]:
    """Every file under root with its sha256, to show a request left the state untouched."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name not in skip:
            out[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


class CutProxy:
    """An HTTP proxy in front of a server that keeps every request body it forwards, and can stop answering after
    `answer` requests, as a server that was stopped does (`lose_reply`: the last one is forwarded, its reply lost)."""

    def __init__(self, upstream: str):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.upstream, self.bodies, self.count = upstream, [], 0
        self.answer: int | None = None
        self.lose_reply = False
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy.lock:
                    proxy.count += 1
                    n = proxy.count
                    down = proxy.answer is not None and n > proxy.answer
                    lost = proxy.answer is not None and n == proxy.answer and proxy.lose_reply
                if down:
                    self.close_connection = True
                    self.connection.shutdown(2)  # no reply at all: the client sees the connection dropped
                    return
                proxy.bodies.append(body)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                r = requests.request(
                    self.command, proxy.upstream + self.path, data=body, headers=headers, timeout=60, stream=True
                )
                content = r.raw.read()
                if lost:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length", "content-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop_after(self, n: int | None, lose_reply: bool = False) -> None:
        with self.lock:
            self.count, self.answer, self.lose_reply = 0, n, lose_reply

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_mlflow(root: Path, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """`mlflow server` on 127.0.0.1 with a SQLite backend and a local artifact store under `root`, once it answers."""
    import socket

    if port is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    log = open(root / "server.log", "a")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"), "server",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination", str(root / "artifacts"),
        ],
        stdout=log, stderr=subprocess.STDOUT, cwd=root, start_new_session=True,
        env={**os.environ, "TMPDIR": str(root)},  # its database's lock file stays with the test, not in /tmp
    )  # fmt: skip
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            if requests.get(f"{url}/health", timeout=5).status_code == 200:
                return server, url
        except requests.RequestException:  # not listening yet, or still starting
            pass
        if server.poll() is not None or time.time() > deadline:
            server.kill()
            raise RuntimeError(f"mlflow server did not start:\n{(root / 'server.log').read_text()[-3000:]}")
        time.sleep(0.2)


def stop_mlflow(server: subprocess.Popen, signal: int = 15) -> None:
    os.killpg(server.pid, signal)
    server.wait(timeout=30)
