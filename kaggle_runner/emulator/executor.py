"""Runs pushed kernel versions as confined local processes laid out as on Kaggle (/kaggle/input, /kaggle/working).
Owns the session life cycle: QUEUED (concurrency caps) -> RUNNING -> COMPLETE / ERROR / CANCEL_ACKNOWLEDGED."""

from __future__ import annotations

import codecs
import functools
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kaggle_runner.emulator import kernel_env, kernel_python, limits, sandbox
from kaggle_runner.emulator.records import Kernel, KernelVersion
from kaggle_runner.emulator.store import Store
from kaggle_runner.emulator.wire import now
from kaggle_runner.kaggle import rules
from kaggle_runner.kaggle.rules import FINAL_STATES

SANDBOX = Path(sandbox.__file__)
API_SOCKET = "/run/kaggle-api.sock"  # inside the session: where its forwarder finds the emulator's API


def _launcher(spec: Path) -> tuple[list[str], bytes]:
    """The sandbox's command line, with no host path in it (sandbox.LAUNCH), and the line its stdin gets."""
    line = json.dumps({"source": SANDBOX.read_text(encoding="utf-8"), "spec": json.loads(spec.read_text())})
    return ["kaggle-session", "-I", "-c", sandbox.LAUNCH], line.encode() + b"\n"


KERNEL_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL on cancel or timeout
UNCONFINED_HINT = (
    "The emulator runs unconfined (--unconfined), so the kernel ran with its inputs in $KAGGLE_INPUT_DIR and its "
    "working directory in $KAGGLE_WORKING_DIR (the current directory); read paths from those variables."
)


def kaggle_log(events: list[dict[str, Any]]) -> str:
    """Kaggle's persisted log: a JSON array of {stream_name, time, data}, one event per line."""
    if not events:
        return "[]"
    return "[" + "\n,".join(json.dumps(e, separators=(",", ":")) for e in events) + "]"


def notebook_to_script(text: str) -> str:
    """The code cells of a notebook as one script; shell escapes run, line magics are skipped."""
    nb = json.loads(text)
    out = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else str(src)
        if src.lstrip().startswith("%%"):
            out.append(f"# cell {i}: cell magic skipped by the emulator\n")
            continue
        lines = []
        for line in src.splitlines():
            stripped = line.lstrip()
            indent = line[: len(line) - len(stripped)]
            if stripped.startswith("!"):
                lines.append(f"{indent}__import__('subprocess').run({stripped[1:]!r}, shell=True)")
            elif stripped.startswith("%"):
                lines.append(f"{indent}pass  # magic skipped: {stripped}")
            else:
                lines.append(line)
        out.append(f"# cell {i}\n" + "\n".join(lines) + "\n")
    return "\n".join(out)


def detect_gpus() -> int:
    if os.environ.get("KR_EMULATOR_GPUS", "").isdigit():
        return int(os.environ["KR_EMULATOR_GPUS"])
    if not shutil.which("nvidia-smi"):
        return 0
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


def detect_tpu() -> bool:
    return rules.tpu_here()


class Session:
    def __init__(
        self,
        kernel: Kernel,
        version: KernelVersion,
        run_dir: Path,
        on_end: Callable[[Session], None] | None = None,
    ):
        self.kernel, self.version, self.run_dir = kernel, version, run_dir
        self.on_end = on_end  # called once the session has ended: a code competition's re-run is scored then
        self.events: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        self.proc: subprocess.Popen | None = None
        self.started = 0.0
        self.cancel_requested = False
        self.timed_out = False
        self.stop_reason: str | None = None  # set when the emulator itself stops the session
        self.ended = threading.Event()  # set once its process has ended (the limits watchdog stops then)
        self.token: str | None = None  # the session's API credential, while it runs

    @property
    def id(self) -> int:
        return self.version["sessionId"]

    @property
    def finished(self) -> bool:
        return self.version["status"] in FINAL_STATES

    def has_finished(self) -> bool:
        """`finished` as a predicate for Condition.wait_for."""
        return self.finished

    def has_news(self, seen: int) -> bool:
        """Whether a reader that has seen `seen` events has more to read, or the end (for Condition.wait_for)."""
        return len(self.events) > seen or self.finished

    def add_event(self, stream: str, data: str) -> None:
        event = {"stream_name": stream, "time": round(time.time() - self.started, 6), "data": data}
        with self.cond:
            self.events.append(event)
            with open(self.run_dir / "log.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(event) + "\n")
            self.cond.notify_all()


class Executor:
    def __init__(
        self,
        store: Store,
        inputs: Callable[[KernelVersion], dict[str, Path]],
        run_dir: Callable[[Kernel, int], Path],
        fallback_cpu: bool,
        python: str,
        unconfined: bool = False,
    ):
        """`inputs(version)` gives the folders a session reads (raising ValueError when one is missing);
        `run_dir(kernel, number)` is where a version's files live. `unconfined` runs kernels on the host."""
        self.store, self.inputs, self.run_dir = store, inputs, run_dir
        self.fallback_cpu = fallback_cpu
        self.python = python
        self.unconfined = unconfined
        self.live: dict[int, Session] = {}
        self.queue: list[Session] = []
        self.lock = threading.RLock()
        self.api_url: str | None = None  # where kernels with internet reach the API; set by the server once listening
        self.api_socket: str | None = None  # the server's unix socket, the confined kernels' way to the API
        self.gpus = detect_gpus()
        self.tpu = detect_tpu()
        self._problem: str | None = None

    @property
    def session_limits(self) -> limits.Limits:
        """What each session may use, from the settings (read each time: a test or a user may change them)."""
        return limits.Limits.of(self.store.settings)

    # -- capabilities ----------------------------------------------------------------------------
    def confinement_problem(self) -> str | None:
        """Why kernels cannot be confined on this machine (probed once with a real session), or None."""
        if self._problem is None:
            run = self.store.root / "kernels" / ".probe"
            shutil.rmtree(run, ignore_errors=True)
            (run / "working").mkdir(parents=True)
            probe = KernelVersion(
                number=0, sessionId=0, status="QUEUED", failureMessage=None, created=now(), started=None, ended=None,
                machineShape="", requestedShape="", shapeLabel="CPU", kind="cpu", internet=False, timeout=60,
                language="python", kernelType="script", sourceFile="script.py", sources={},
            )  # fmt: skip
            s = Session(Kernel(), probe, run)
            (run / "src").mkdir()
            (run / "src" / "script.py").write_text("import os\nassert os.getcwd() == '/kaggle/working'\n")
            cmd, line = _launcher(self._spec(s, {}, self._kernel_env(s)))
            try:
                r = subprocess.run(
                    cmd,
                    executable=sys.executable,
                    input=line.decode(),
                    capture_output=True,
                    text=True,
                    timeout=60,
                    env={"PATH": "/usr/bin:/bin"},
                )
                lines = (r.stderr.strip() or f"exit code {r.returncode}").splitlines()
                self._problem = "" if r.returncode == 0 else lines[-1]
            except (OSError, subprocess.TimeoutExpired) as e:
                self._problem = str(e)
            shutil.rmtree(run, ignore_errors=True)
        return self._problem or None

    @functools.cached_property
    def placement(self) -> kernel_python.Placement:
        """Where the kernels' Python appears inside a session (/opt/venv, /opt/python): no host path shows."""
        return kernel_python.place(self.python)

    @functools.cached_property
    def xla(self) -> bool:
        """Whether the kernels' Python has torch_xla (Kaggle's TPU stack, `kr emulator env --stack tpu`): TPU sessions
        then run on XLA's CPU device, through the code path a TPU runs."""
        code = "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch_xla') is None)"
        return subprocess.run([self.python, "-I", "-c", code], capture_output=True, timeout=60).returncode == 0

    def missing_accelerator(self, kind: str, label: str) -> str | None:
        if kind == "gpu" and not self.gpus:
            found = "no GPU (nvidia-smi lists none)"
        elif kind == "tpu" and not self.tpu and not self.xla:
            found = (
                "no TPU (no /dev/accel* or /dev/vfio/N device, no TPU_NAME) and no torch_xla in the kernels' Python "
                "to run XLA on the CPU (`kr emulator env --stack tpu` installs Kaggle's TPU stack)"
            )
        else:
            return None
        return (
            f"The session asked for {label} but this machine has {found}. "
            "Restart the emulator with --fallback-cpu to run such kernels on the CPU."
        )

    # -- life cycle ------------------------------------------------------------------------------
    def submit(
        self,
        kernel: Kernel,
        version: KernelVersion,
        run_dir: Path,
        on_end: Callable[[Session], None] | None = None,
    ) -> None:
        """Queue a session for this version; a version marked `rerun` (a code competition's scoring run, on
        Kaggle's machines rather than the user's) starts at once, outside the user's session caps."""
        session = Session(kernel, version, run_dir, on_end)
        if version["language"] != "python":
            self._finish(session, "ERROR", f"The emulator runs Python kernels only, not {version['language']}")
            return
        missing = self.missing_accelerator(version["kind"], version["shapeLabel"])
        if missing and not self.fallback_cpu:
            self._finish(session, "ERROR", missing)
            return
        with self.lock:
            self.live[session.id] = session
            self.queue.append(session)
        self.schedule()

    def schedule(self) -> None:
        with self.lock:
            caps = self.store.settings["max_sessions"]
            for session in list(self.queue):
                kind, owner = session.version["kind"], session.kernel.get("owner")
                running = sum(  # Kaggle's caps are each owner's own: another user's sessions hold no one back
                    1
                    for s in self.live.values()
                    if s.proc is not None
                    and s.version["kind"] == kind
                    and s.kernel.get("owner") == owner
                    and not s.version.get("rerun")
                )
                if session.version.get("rerun") or running < int(caps.get(kind, 1)):
                    self.queue.remove(session)
                    self._start(session)

    def _start(self, s: Session) -> None:
        run, v = s.run_dir, s.version
        working = run / "working"
        working.mkdir(parents=True, exist_ok=True)
        try:
            inputs = self.inputs(v)
        except ValueError as e:
            self._finish(s, "ERROR", str(e))
            return
        source = (run / v["sourceFile"]).read_text(encoding="utf-8")
        if v["kernelType"] == "notebook":
            try:
                source = notebook_to_script(source)
            except (json.JSONDecodeError, AttributeError) as e:
                self._finish(s, "ERROR", f"The notebook is not valid JSON: {e}")
                return
        (run / "src").mkdir(exist_ok=True)
        (run / "src" / "script.py").write_text(source, encoding="utf-8")
        env = self._kernel_env(s)
        env.update(self._api_credential(s))
        line, executable = b"", None
        if self.unconfined:
            cmd, env = self._unconfined(s, inputs, env)
        else:
            cmd, line = _launcher(self._spec(s, inputs, env))
            executable = sys.executable
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}  # the launcher's; the kernel's is in the spec

        s.started = time.time()
        try:
            s.proc = subprocess.Popen(
                cmd,
                executable=executable,
                cwd=working,
                env=env,
                stdin=subprocess.PIPE if line else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            if line:
                assert s.proc.stdin is not None
                with s.proc.stdin:
                    s.proc.stdin.write(line)
        except OSError as e:
            self._finish(s, "ERROR", f"cannot start the kernel: {e}")
            return
        run = s.run_dir
        limits.watch(
            s.proc.pid,
            self.session_limits,
            run / "working",
            [run / "tmp", run / "temp", run / "home"],
            lambda reason: self._stop(s, reason),
            s.ended,
        )
        with self.store.lock:
            v["status"] = "RUNNING"
            v["started"] = now()
            self.store.save()
        pumps = [
            threading.Thread(target=self._pump, args=(s, s.proc.stdout, "stdout"), daemon=True),
            threading.Thread(target=self._pump, args=(s, s.proc.stderr, "stderr"), daemon=True),
        ]
        for t in pumps:
            t.start()
        threading.Thread(target=self._watch, args=(s, pumps), daemon=True).start()

    def _kernel_env(self, s: Session) -> dict[str, str]:
        """The variables a Kaggle batch session has (docs/kaggle-facts.md; docker-python's Dockerfile.tmpl), with local
        values. Nothing of the emulator's own environment passes, except the CUDA paths a GPU image sets."""
        v = s.version
        env = {
            "PATH": os.pathsep.join(KERNEL_PATH),  # the Python's own bin/ goes first: _spec, _unconfined
            "HOME": "/root",
            "LANG": "C.UTF-8",
            "PYTHONUSERBASE": "/root/.local",
            "KAGGLE_KERNEL_RUN_TYPE": "Batch",
            "KAGGLE_URL_BASE": "https://www.kaggle.com",
            "KAGGLE_DOCKER_IMAGE": "kr-emulator/python",
        }
        if v.get("rerun"):  # a code competition's scoring re-run; kernels test it for truth (docs/kaggle-facts.md)
            env["KAGGLE_IS_COMPETITION_RERUN"] = "True"
        if self.store.settings["session_id_in_env"]:  # a leniency: Kaggle shows no session id (docs/kaggle-facts.md)
            env["KAGGLE_KERNEL_SESSION_ID"] = str(s.id)
        if v["kind"] == "gpu":
            env.update({k: os.environ[k] for k in ("LD_LIBRARY_PATH", "CUDA_HOME") if k in os.environ})
        else:
            env["CUDA_VISIBLE_DEVICES"] = ""  # a CPU or TPU session sees no GPU, as on Kaggle
        if v["kind"] == "tpu" and not self.tpu and self.xla:
            env["PJRT_DEVICE"] = "CPU"  # torch_xla's CPU client: the TPU's code path, with XLA's CPU device
        if self.missing_accelerator(v["kind"], v["shapeLabel"]):
            env["KAGGLE_EMULATOR_FALLBACK_CPU"] = "1"
        return env

    def _api_credential(self, s: Session) -> dict[str, str]:
        """A kernel with internet gets an API token scoped to its session, in a file named by KAGGLE_API_V1_TOKEN,
        which kagglesdk reads by itself inside a notebook (kagglesdk kaggle_env.py; docs/kaggle-facts.md). The token is
        refused once the session ends. KAGGLE_API_ENVIRONMENT and HTTP_PROXY route kagglesdk to this emulator."""
        v = s.version
        if not v.get("internet", True) or v.get("rerun") or not self.api_url or not s.kernel:
            return {}
        folder = s.run_dir / "secrets"
        folder.mkdir(exist_ok=True)
        s.token = "KGAT_" + secrets.token_hex(16)
        (folder / "api-v1-token").write_text(s.token)
        (folder / "api-v1-token").chmod(0o644)  # the kernel's unprivileged user reads it
        with self.store.lock:
            self.store.session_tokens[s.token] = s.kernel["owner"]
        path = str(folder / "api-v1-token") if self.unconfined else "/kaggle/secrets/api-v1-token"
        # a confined kernel finds the API on its own loopback, where sandbox.py forwards it to the emulator
        url = self.api_url if self.unconfined else f"http://127.0.0.1:{urlsplit(self.api_url).port}"
        return {
            "KAGGLE_API_V1_TOKEN": path,
            "KAGGLE_DATA_PROXY_URL": url,
            "KAGGLE_API_ENVIRONMENT": "LOCALHOST",
            "HTTP_PROXY": url,
        }

    def _spec(self, s: Session, inputs: dict[str, Path], env: dict[str, str]) -> Path:
        """The sandbox's instructions: Kaggle's folders, the Python that runs kernels, the devices of the session's
        accelerator, and loopback only when the kernel has no internet."""
        run, v = s.run_dir, s.version
        private = {"/tmp": run / "tmp", "/kaggle/temp": run / "temp", "/root": run / "home"}
        for folder in private.values():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
        binds: list[list[Any]] = [
            ["/kaggle/src", str(run / "src"), True],
            ["/kaggle/working", str(run / "working"), False],
        ]
        binds += [[target, str(host), False] for target, host in private.items()]
        if (run / "secrets").is_dir():
            binds.append(["/kaggle/secrets", str(run / "secrets"), True])
        binds += [[f"/kaggle/input/{where}", str(path), True] for where, path in inputs.items()]
        python = self.placement
        binds += [[inside, host, True] for inside, host in python.binds]
        env = {**env, "PATH": os.pathsep.join([str(Path(python.executable).parent), *KERNEL_PATH])}
        if python.library_path:
            env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [python.library_path, env.get("LD_LIBRARY_PATH")]))
        api = bool(v.get("internet", True)) and self.api_url and self.api_socket and not v.get("rerun")
        if api:
            binds.append([API_SOCKET, self.api_socket, False])
        devices = [str(p) for p in sorted(Path("/dev").glob("nvidia*"))] if v["kind"] == "gpu" else []
        if v["kind"] == "tpu":
            devices = [str(p) for p in sorted(Path("/dev").glob("accel*"))] + [
                p for p in ["/dev/vfio"] if os.path.isdir(p)
            ]
        spec = {
            "root": str(run / "root"),
            "binds": sorted(binds, key=lambda b: b[0].count("/")),
            "writable": [str(run / "working"), *map(str, private.values())],
            "devices": devices,
            "api": {"port": urlsplit(self.api_url).port, "socket": API_SOCKET} if api else None,
            "cwd": "/kaggle/working",
            "links": [list(link) for link in python.links],
            "files": [list(file) for file in python.files],
            "argv": [python.executable, "-u", "/kaggle/src/script.py"],
            "env": env,
            "processes": self.session_limits.processes,
            "shm_bytes": self.session_limits.memory_bytes
            // 2,  # /dev/shm is memory: half the session's, as Linux's default
        }
        (run / "root").mkdir(exist_ok=True)
        path = run / "sandbox.json"
        path.write_text(json.dumps(spec), encoding="utf-8")
        return path

    def _unconfined(self, s: Session, inputs: dict[str, Path], env: dict[str, str]) -> tuple[list[str], dict]:
        """`serve --unconfined`: the kernel runs as the emulator's user on the host, inputs behind links."""
        run = s.run_dir
        links = run / "input"
        shutil.rmtree(links, ignore_errors=True)
        links.mkdir()
        for where, path in inputs.items():
            (links / where).parent.mkdir(parents=True, exist_ok=True)
            (links / where).symlink_to(path, target_is_directory=True)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("KAGGLE_", "KR_"))}, **env}
        env.update(
            KAGGLE_INPUT_DIR=str(links), KAGGLE_WORKING_DIR=str(run / "working"), HOME=os.environ.get("HOME", "/")
        )
        env["PATH"] = os.pathsep.join([str(Path(self.python).parent), os.environ.get("PATH", "")])
        return [self.python, "-u", str(run / "src" / "script.py")], env

    def _pump(self, s: Session, pipe: Any, stream: str) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        for line in iter(lambda: pipe.readline(65536), b""):
            text = decoder.decode(line)
            if text:
                s.add_event(stream, text)
        tail = decoder.decode(b"", final=True)
        if tail:
            s.add_event(stream, tail)

    def _watch(self, s: Session, pumps: list[threading.Thread]) -> None:
        assert s.proc is not None
        timeout = s.version["timeout"]
        try:
            code = s.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            s.timed_out = True
            self._kill(s)
            code = s.proc.wait()
        s.ended.set()
        for t in pumps:
            t.join(timeout=5)
        if s.stop_reason:
            self._finish(s, "ERROR", s.stop_reason)
        elif s.cancel_requested:
            self._finish(s, "CANCEL_ACKNOWLEDGED", None)
        elif s.timed_out:  # Kaggle ends a session at its limit as cancelled, with no message (docs/kaggle-facts.md)
            self._finish(s, "CANCEL_ACKNOWLEDGED", None)
        elif code == sandbox.EXIT_NO_SANDBOX and not self.unconfined:
            self._finish(s, "ERROR", "The emulator could not confine this session: " + self._last_stderr(s))
        elif code != 0:
            self._finish(s, "ERROR", self._failure(s, code))
        else:
            self._finish(s, "COMPLETE", None)

    def _failure(self, s: Session, code: int) -> str:
        name = f"signal {-code}" if code < 0 else f"code {code}"
        err = self._last_stderr(s)
        msg = f"Kernel exited with {name}" + (f": {err}" if err else "")
        text = "".join(e["data"] for e in s.events)
        if self.unconfined and "/kaggle/" in text and ("No such file" in text or "FileNotFoundError" in text):
            msg += ". " + UNCONFINED_HINT
        hint = kernel_env.missing_module_hint(text)
        return msg + (f"; {hint}" if hint else "")

    @staticmethod
    def _last_stderr(s: Session) -> str:
        err = [e["data"].strip() for e in s.events if e["stream_name"] == "stderr" and e["data"].strip()]
        return err[-1] if err else ""

    def _stop(self, s: Session, reason: str) -> None:
        """End a session the emulator stops (a limit passed): ERROR with `reason`, as Kaggle ends such a session."""
        s.stop_reason = reason
        self._kill(s)

    def _kill(self, s: Session) -> None:
        if s.proc is None or s.proc.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(s.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                s.proc.wait(timeout=KILL_GRACE)
                return
            except subprocess.TimeoutExpired:
                continue

    def _finish(self, s: Session, status: str, failure: str | None) -> None:
        with self.store.lock:
            if s.finished:
                return
        if s.run_dir.is_dir():  # killed at its time limit, a session's persisted log is empty (docs/kaggle-facts.md)
            (s.run_dir / "log.json").write_text(kaggle_log([] if s.timed_out else s.events), encoding="utf-8")
        with self.store.lock:
            # the token goes first: a client that sees the final status must find the token refused already
            if s.token:
                self.store.session_tokens.pop(s.token, None)
            s.version["status"] = status
            s.version["failureMessage"] = failure
            s.version["ended"] = now()
            self.store.save()
        with s.cond:
            s.cond.notify_all()
        with self.lock:
            self.live.pop(s.id, None)
            if s in self.queue:
                self.queue.remove(s)
        try:
            if s.on_end is not None:
                s.on_end(s)
        finally:
            self.schedule()
            self._clean(s)

    @staticmethod
    def _clean(s: Session) -> None:
        """Remove a session's scratch folders, last: whatever the kernel left there (a tree deeper than Python's
        recursion limit, say) must not keep its slot or the queue. `rm -rf` walks a tree of any depth."""
        scratch = [s.run_dir / name for name in ("root", "tmp", "temp", "home", "src", "secrets", "sandbox.json")]
        try:
            subprocess.run(["rm", "-rf", "--", *map(str, scratch)], capture_output=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as e:
            print(f"kr emulator: could not clean session {s.id}'s scratch folders: {e}", file=sys.stderr)

    def cancel(self, session_id: int, wait: float = 0.0) -> str | None:
        """Stop a session (waiting up to `wait` seconds for it to end); None on success, else why not."""
        with self.lock:
            s = self.live.get(session_id)
            if s is None:
                return f"session {session_id} is not running"
            s.cancel_requested = True
            if s.proc is None:  # still queued
                self._finish(s, "CANCEL_ACKNOWLEDGED", None)
                return None
            with self.store.lock:
                s.version["status"] = "CANCEL_REQUESTED"
                self.store.save()
        threading.Thread(target=self._kill, args=(s,), daemon=True).start()
        if wait:
            with s.cond:
                s.cond.wait_for(lambda: s.finished, timeout=wait)
        return None

    def recover(self) -> None:
        """Sessions that were live when the emulator last stopped end as ERROR with a message."""
        with self.store.lock:
            for kernel in self.store.state["kernels"].values():
                for v in kernel["versions"]:
                    if v["status"] in ("QUEUED", "RUNNING", "CANCEL_REQUESTED"):
                        v["status"] = "ERROR"
                        v["failureMessage"] = "The emulator stopped while this session was running"
                        v["ended"] = now()
                        self._salvage_log(self.run_dir(kernel, v["number"]))
            self.store.save()

    def _salvage_log(self, run: Path) -> None:
        partial, final = run / "log.jsonl", run / "log.json"
        if final.exists() or not partial.exists():
            return
        events = []
        for line in partial.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line cut short by the crash
        final.write_text(kaggle_log(events), encoding="utf-8")

    def shutdown(self) -> None:
        with self.lock:
            sessions = list(self.live.values())
            self.queue.clear()
        reason = "The emulator was shut down while this session was running"
        for s in sessions:
            s.stop_reason = reason
            self._kill(s)
        deadline = time.time() + 5
        for s in sessions:
            if s.proc is not None:  # a queued session has no process to end it: it is ended here at once
                with s.cond:
                    s.cond.wait_for(s.has_finished, timeout=max(0.0, deadline - time.time()))
            self._finish(s, "ERROR", reason)
