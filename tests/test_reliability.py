"""Findings of the adversarial run (the hardening issue), one by one: each bad input ends in one clear line and a
non-zero exit with nothing recorded lost, and one bad output file does not keep a run's other outputs back."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from helpers import Api, creds, write_project
from kaggle_runner.emulator import Emulator, kernel_python, sandbox
from kaggle_runner.emulator.seed import init_state
from kaggle_runner.ledger.db import open_ledger

KERNEL_OK = "print('hello')\n"


def _project(root: Path, kernels: dict[str, Any] | None = None) -> Path:
    spec = {"folder": "k", "entry": "main.py", "title": "Main Kernel"}
    return write_project(root, kernels=kernels or {"main": spec}, files={"k/main.py": KERNEL_OK})


def _one_line(r, *needles: str) -> None:
    assert r.returncode != 0, r.stdout
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("kr: error: "), r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr


# -- 3. names kr.yaml accepted but versions could not address ------------------------------------------------
@pytest.mark.parametrize("name", ["my kernel", "ünïcødé", "a:b", "../../x", "-x"])
def test_kernel_names_a_version_cannot_address_are_refused_at_load(tmp_path: Path, make_kr, name: str) -> None:
    _project(tmp_path, {name: {"folder": "k", "entry": "main.py", "title": "Main Kernel"}})
    _one_line(make_kr(tmp_path)("ls", check=None), f"kernels.{name}", "is not a usable name")


@pytest.mark.parametrize(
    "spec, key",
    [
        ("{folder: ../../etc, entry: passwd, title: Main Kernel}", "kernels.main.folder"),
        ("{folder: k, entry: ../../../etc/passwd, title: Main Kernel}", "kernels.main.entry"),
    ],
)
def test_kernel_folders_and_entries_must_lie_inside_the_project(tmp_path: Path, make_kr, spec: str, key: str) -> None:
    _project(tmp_path / "p", {"main": yaml.safe_load(spec)})
    _one_line(make_kr(tmp_path / "p")("ls", check=None), key, "is outside")


def test_dataset_globs_reaching_outside_are_refused(tmp_path: Path, make_kr) -> None:
    _project(tmp_path)
    with open(tmp_path / "kr.yaml", "a") as f:
        f.write("datasets:\n  bits: {paths: ['../secrets/*']}\n")
    _one_line(make_kr(tmp_path)("ls", check=None), "datasets.bits.paths[0]", "reaches outside the project")


# -- 10 and 12. version texts, kr.yaml encodings and duplicate keys ------------------------------------------------
@pytest.mark.parametrize("text", ["v١", "v99999999999999999999999", "main:v1:v2"])
def test_odd_version_texts_are_one_line(tmp_path: Path, make_kr, text: str) -> None:
    _project(tmp_path)
    _one_line(make_kr(tmp_path)("show", text, check=None), "is not a version")


def test_a_kr_yaml_that_is_not_utf8_is_one_line(tmp_path: Path, make_kr) -> None:
    _project(tmp_path)
    (tmp_path / "kr.yaml").write_bytes("competition: caf\xe9\n".encode("latin-1"))
    _one_line(make_kr(tmp_path)("ls", check=None), "kr.yaml: not UTF-8 text")


def test_duplicate_yaml_keys_are_refused_not_last_wins(tmp_path: Path, make_kr) -> None:
    _project(tmp_path)
    (tmp_path / "kr.yaml").write_text(
        "kernels:\n  main: {folder: k, entry: main.py, title: Main Kernel}\n"
        "  main: {folder: k, entry: other.py, title: Other Kernel}\n"
    )
    _one_line(make_kr(tmp_path)("ls", check=None), "kr.yaml: line 3: key 'main' appears twice")


def test_a_binary_entry_file_is_one_line(tmp_path: Path, make_kr, emulator) -> None:
    _project(tmp_path)
    (tmp_path / "k" / "main.py").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    _one_line(make_kr(tmp_path, emulator)("push", check=None), "kernels.main.entry", "not UTF-8")


# -- 9. an empty ledger file ---------------------------------------------------------------------------------------
def test_an_empty_ledger_file_is_refused_not_taken_as_new(tmp_path: Path, make_kr) -> None:
    _project(tmp_path)
    (tmp_path / ".kr").mkdir()
    (tmp_path / ".kr" / "ledger.sqlite").write_bytes(b"")
    _one_line(make_kr(tmp_path)("ls", check=None), "the ledger file is empty (0 bytes)")
    assert (tmp_path / ".kr" / "ledger.sqlite").stat().st_size == 0  # left as it was, for the user to restore


def test_a_new_ledger_is_never_an_empty_file(tmp_path: Path) -> None:
    open_ledger(tmp_path).close()
    path = tmp_path / ".kr" / "ledger.sqlite"
    assert path.stat().st_size > 0 and [p.name for p in path.parent.iterdir() if p.name.endswith(".new")] == []
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] >= 3


# -- 12. an interrupted push shows in kr ls -----------------------------------------------------------------------
def test_ls_shows_a_push_in_flight_or_cut_off(tmp_path: Path, make_kr) -> None:
    _project(tmp_path)
    ledger = open_ledger(tmp_path)
    ledger.begin_push("main", "testuser/main", "cpu", "", "cut off", None, False, {}, {})
    ledger.close()
    rows = json.loads(make_kr(tmp_path)("ls", "--json").stdout)
    assert [(r["status"], r["message"]) for r in rows] == [("PUSHING", "cut off")]


# -- 12. kr plot -o DIR/ --------------------------------------------------------------------------------------------
def test_plot_to_a_folder_is_refused_instead_of_writing_dir_png(tmp_path: Path, make_kr) -> None:
    _project(tmp_path)
    _one_line(make_kr(tmp_path)("plot", "--scores", "-o", "plots/", check=None), "plots/ is a folder")
    assert not (tmp_path / "plots.png").exists()


# -- 12. an unreachable URL fails in seconds ----------------------------------------------------------------------
def test_a_command_gives_up_at_its_deadline_and_says_the_run_goes_on(tmp_path: Path, make_kr, emulator) -> None:
    (_project(tmp_path) / "k" / "main.py").write_text("import time\ntime.sleep(60)\n")
    kr = make_kr(tmp_path, emulator)
    kr("push")
    r = kr("--deadline", "8", "wait", "v1", check=1)  # time for kr to start and reach the wait on a busy machine
    assert r.stderr.splitlines()[-1] == (
        "kr: error: gave up after 8 s (kr --deadline); main v1 goes on on Kaggle; `kr wait main:v1` follows it again"
    )
    assert "--deadline" in kr("--deadline", "0", "ls", check=2).stderr


def test_nothing_listening_fails_after_three_quick_attempts(tmp_path: Path, make_kr) -> None:
    _project(tmp_path)
    kr = make_kr(tmp_path)
    r = kr(
        "push",
        check=None,
        env={
            "KR_KAGGLE_URL": "http://127.0.0.1:9",
            "KAGGLE_USERNAME": "testuser",
            "KAGGLE_KEY": "0" * 32,
            "KR_RETRY_BASE_SECONDS": "0.01",
        },
    )
    _one_line(r, "cannot reach http://127.0.0.1:9 (connection refused) after 3 attempts")


# -- 11. the emulator's answers to hostile requests ---------------------------------------------------------------
def test_deeply_nested_json_is_a_400_not_a_500(emulator) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    c = creds(emulator)
    r = requests.post(
        f"{emulator.url}/v1/kernels.KernelsApiService/GetKernel",
        data=body,
        timeout=30,
        auth=(c["username"], c["key"]),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400 and "nested too deeply" in r.json()["message"]


def test_download_of_a_host_path_answers_like_a_missing_file(api, emulator) -> None:
    token = api.upload("a.csv", b"x,y\n1,2\n")
    api.ok(
        "datasets.CreateDataset",
        {
            "ownerSlug": "testuser",
            "slug": "probe-me",
            "title": "Probe Me",
            "files": [{"token": token}],
            "isPrivate": True,
        },
    )
    assert api.wait_dataset("probe-me") == "READY"
    answers = {}
    for name in ("/etc/passwd", "/etc/no-such-file", "../../../../etc/passwd", "a.csv"):
        r = api.call("datasets.DownloadDataset", {"ownerSlug": "testuser", "datasetSlug": "probe-me", "fileName": name})
        answers[name] = r.status_code
    assert answers == {"/etc/passwd": 404, "/etc/no-such-file": 404, "../../../../etc/passwd": 404, "a.csv": 200}


# -- 7. kr submit refuses inf before any upload -------------------------------------------------------------------
def test_submit_refuses_infinity_like_merge_before_uploading(tmp_path: Path, make_kr, emulator) -> None:
    _project(tmp_path)
    sample = (emulator.store.root / "competitions" / "tiny-toxic" / "data" / "sample_submission.csv").read_text()
    lines = sample.splitlines()
    bad = lines[:2] + [lines[2].split(",")[0] + ",inf"] + lines[3:]
    (tmp_path / "inf.csv").write_text("\n".join(bad) + "\n")
    before = len(emulator.requests)
    _one_line(make_kr(tmp_path, emulator)("submit", "inf.csv", check=None), "line 3: column 'toxic' is infinite")
    assert not any(q["route"].endswith(("SubmissionUpload", "CreateSubmission")) for q in emulator.requests[before:])


def test_scores_name_kr_own_file_submissions_by_their_file(tmp_path: Path, make_kr, emulator) -> None:
    _project(tmp_path)
    kr = make_kr(tmp_path, emulator)
    sample = (emulator.store.root / "competitions" / "tiny-toxic" / "data" / "sample_submission.csv").read_text()
    (tmp_path / "by-hand.csv").write_text(sample)
    kr("submit", "by-hand.csv", "-m", "hand made")
    rows = json.loads(kr("scores", "--json").stdout)
    assert [r["source"] for r in rows] == ["by-hand.csv"]


def test_a_submit_killed_during_create_submission_is_not_sent_twice(tmp_path: Path, make_kr, make_emulator) -> None:
    """kill -9 while CreateSubmission was with Kaggle, then the same `kr submit` again: it submitted twice, spending
    two of the day's slots, and `kr scores` showed the first as "(outside kr)"."""
    from kaggle_runner.emulator.faults import Faults, Rule

    kr_process: list[Any] = []

    class KillWhileKaggleHasIt(Faults):
        taken = False

        def pick(self, route: str) -> Rule | None:
            if not kr_process or kr_process[0].poll() is not None:
                return None
            if route.endswith("/CreateSubmission"):
                self.taken = True
                return Rule(fault="reset_after")  # handled, and its answer never reaches kr
            if self.taken:  # kr's next request: it is stopped before it learns anything
                kr_process[0].kill()
                kr_process[0].wait()
                return Rule(fault="reset")
            return None

    em = make_emulator(faults=KillWhileKaggleHasIt())
    _project(tmp_path)
    kr = make_kr(tmp_path, em)
    sample = (em.store.root / "competitions" / "tiny-toxic" / "data" / "sample_submission.csv").read_text()
    (tmp_path / "by-hand.csv").write_text(sample)
    kr_process.append(kr.start("submit", "by-hand.csv", "-m", "hand made"))
    assert kr_process[0].wait(60) == -9
    again = kr("submit", "by-hand.csv", "-m", "hand made")
    assert "was cut off after Kaggle took it; recorded, not sent again" in again.stderr
    assert sum(q["route"].endswith("/CreateSubmission") for q in em.requests) == 1
    rows = json.loads(kr("scores", "--json").stdout)
    assert [r["source"] for r in rows] == ["by-hand.csv"]


# -- 6. one bad output file does not block a run ------------------------------------------------------------------
BAD_OUTPUTS = r"""import os
open("submission.csv", "w").write("id,toxic\n000001,0.5\n")
open("..\\..\\x.txt", "w").write("a name that would climb out on Windows\n")
os.symlink("/etc/hostname", "link.txt")
print("done")
"""


def _pulled(tmp_path: Path, make_kr, emulator, kernel: str) -> tuple[Any, str, dict]:
    """`kernel` pushed and waited for: the kr runner, what `kr wait` said on stderr, and the run's `kr ls` row.
    Its submission.csv must have come back whatever else did not."""
    _project(tmp_path)
    (tmp_path / "k" / "main.py").write_text(kernel)
    kr = make_kr(tmp_path, emulator)
    kr("push")
    said = kr("wait", "v1").stderr
    assert (tmp_path / ".kr" / "runs" / "v1" / "submission.csv").read_text() == "id,toxic\n000001,0.5\n"
    return kr, said, json.loads(kr("ls", "--json").stdout)[0]


def test_refused_names_and_links_are_skipped_and_the_rest_pulled(tmp_path: Path, make_kr, emulator) -> None:
    kr, said, row = _pulled(tmp_path, make_kr, emulator, BAD_OUTPUTS)
    assert "skipped output '..\\\\..\\\\x.txt'" in said
    assert row["status"] == "COMPLETE (1 output skipped)"
    assert {s["name"] for s in row["skipped"]} == {"..\\..\\x.txt"}
    assert "skipped output '..\\\\..\\\\x.txt'" in kr("show", "v1").stdout
    # the link is not an output at all: the listing follows no links (it told whether a host path exists)
    assert "link.txt" not in said and not (tmp_path / ".kr" / "runs" / "v1" / "link.txt").exists()


CLASHING_OUTPUTS = r"""import os
open("submission.csv", "w").write("id,toxic\n000001,0.5\n")
open("a", "w").write("a file\n")
open("a\\b.txt", "w").write("a name that is a file inside `a` here\n")
open("z\\w.txt", "w").write("a folder made by this name\n")
open("z", "w").write("a file where the folder now is\n")
print("done")
"""


def test_outputs_that_clash_here_are_skipped_and_the_rest_pulled(tmp_path: Path, make_kr, emulator) -> None:
    """A file `a` and an `a\\b.txt` (which is `a/b.txt` here), in both orders: one of each pair cannot be written."""
    _, said, row = _pulled(tmp_path, make_kr, emulator, CLASHING_OUTPUTS)
    clashed = {s["name"] for s in row["skipped"]}
    assert len(clashed) == 2 and clashed <= {"a", "a\\b.txt", "z", "z\\w.txt"}, clashed
    assert all(f"skipped output {name!r}" in said for name in clashed)
    assert row["status"] == "COMPLETE (2 outputs skipped)"


# -- 5. the emulator under load ----------------------------------------------------------------------------------
def test_two_hundred_concurrent_clients_are_all_answered(api, emulator) -> None:
    import threading

    api.push("load", "print(1)\n")
    c = creds(emulator)
    url = f"{emulator.url}/v1/kernels.KernelsApiService/GetKernelSessionStatus"
    body = {"userName": "testuser", "kernelSlug": "load", "versionLabel": "v1"}
    start, results = threading.Barrier(200), []

    def client() -> None:
        start.wait(timeout=30)  # all 200 connect at once, each on a connection of its own
        try:
            r = requests.post(url, json=body, auth=(c["username"], c["key"]), timeout=60)
            results.append(r.status_code)
        except requests.RequestException as e:
            results.append(type(e).__name__)

    threads = [threading.Thread(target=client) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert results == [200] * 200, {r: results.count(r) for r in set(results)}


def test_an_idle_connection_gives_its_thread_back(emulator, monkeypatch) -> None:
    import socket

    from kaggle_runner.emulator import server

    monkeypatch.setattr(server.Handler, "timeout", 0.5)
    host, port = emulator.url.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.settimeout(10)
        assert s.recv(1) == b""  # sent nothing: the server closed the connection instead of waiting for ever


def test_three_hundred_slow_clients_hold_no_worker_and_are_dropped_at_the_header_deadline(
    api, emulator, monkeypatch
) -> None:
    """300 clients sending a byte now and then held all 256 connection threads: the health check timed out for
    everyone until they closed."""
    import socket
    import time

    from kaggle_runner.emulator import connections

    monkeypatch.setattr(connections, "HEADER_SECONDS", 2.0)
    host, port = emulator.url.rsplit("/", 1)[1].split(":")
    slow = [socket.create_connection((host, int(port)), timeout=10) for _ in range(300)]
    try:
        for s in slow:
            s.sendall(b"POST /v1/kernels.KernelsApiService/GetKernel HTTP/1.1\r\n")  # and then next to nothing
        started = time.monotonic()
        r = api.call("kernels.ListKernels", {"user": "testuser"})
        assert r.status_code == 200 and time.monotonic() - started < 2, r.text
        time.sleep(3)
        slow[0].settimeout(5)
        answer = slow[0].recv(4096)
        assert answer.startswith(b"HTTP/1.1 408 "), answer  # told why, then closed
    finally:
        for s in slow:
            s.close()


def test_a_body_sent_a_byte_at_a_time_is_cut_off(api, emulator, monkeypatch) -> None:
    import socket
    import time

    from kaggle_runner.emulator import connections

    monkeypatch.setattr(connections, "BODY_GRACE_SECONDS", 1.0)
    host, port = emulator.url.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"POST /v1/kernels.KernelsApiService/ListKernels HTTP/1.1\r\nContent-Length: 1000\r\n\r\n{")
        started, closed = time.monotonic(), False
        while time.monotonic() - started < 10 and not closed:
            time.sleep(0.3)
            try:
                s.sendall(b" ")
            except OSError:
                closed = True
            else:
                s.settimeout(0.01)
                try:
                    closed = s.recv(1) == b""
                except TimeoutError:
                    pass
        assert closed and time.monotonic() - started < 5


# -- 1. kernels confined like a Kaggle container -------------------------------------------------------------------
SECRET = "0000kr-escape-probe-not-a-real-key"
ATTACKER = r"""import json, os, socket, sys
host = json.loads({paths!r})
tried = {{}}

def attempt(name, action):
    try:
        got = action()
    except Exception as e:  # every way of being refused counts as refused
        tried[name] = "refused: " + type(e).__name__
    else:
        tried[name] = "ESCAPED: " + repr(got)[:200]

def grep_environ():
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if SECRET.encode() in open(f"/proc/{{pid}}/environ", "rb").read():
                found.append(pid)
        except OSError:
            pass
    if not found and SECRET not in json.dumps(dict(os.environ)):
        raise LookupError("the secret is in no environment")
    return found

def append(path):
    with open(path, "a") as f:
        f.write("tampered\n")
    return path

def connect(port):
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
    return port

def other_processes():
    pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    if pids and max(pids) <= 3:  # init, this kernel, and the listing itself
        raise LookupError(pids)
    return pids

def host_folders():
    expected = {{"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "dev", "proc", "sys", "kaggle", "tmp",
                "root", "opt", "run"}}
    seen = [p for p in os.listdir("/") if p not in expected]
    seen += ["/opt/" + p for p in os.listdir("/opt") if p not in ("venv", "python")]
    if not seen:
        raise LookupError("nothing of the host's beyond the system folders")
    return seen

def host_paths_in_python():
    # the kernels' Python was bound at its host path: sys.executable, sys.path, PATH, sysconfig, its scripts' #!
    # lines, the process's own maps and every traceback named the emulator's folders
    import json as stdlib_module, sysconfig
    bin_dir = os.path.dirname(sys.executable)
    seen = [sys.executable, sys.prefix, sys.base_prefix, os.path.realpath(sys.executable), stdlib_module.__file__,
            os.readlink("/proc/self/exe"), *sys.path, *os.environ.values(), open("/proc/self/maps").read(),
            json.dumps(sysconfig.get_paths()), json.dumps(sysconfig.get_config_vars(), default=str)]
    for path in (os.path.join(bin_dir, name) for name in os.listdir(bin_dir)):
        head = open(path, "rb").read(4096) if os.path.isfile(path) else b""
        if head.startswith(b"#!"):
            seen.append(head.decode(errors="replace"))
    leaked = sorted({{p for p in host["python"] for text in seen if p in text}})
    if not leaked:
        raise LookupError("no host path in what Python shows")
    return leaked

def writable_mounts():
    # H1: /sys was bound read-only at its top only, so /sys/fs/cgroup (cgroup.kill) stayed writable beneath it
    found = []
    for line in open("/proc/self/mountinfo"):
        fields = line.split()
        point, options = fields[4], fields[5].split(",")
        if "rw" in options and not point.startswith(("/kaggle", "/tmp", "/root", "/dev", "/proc")) and point != "/":
            found.append(point)
    if not found:
        raise LookupError("every system mount is read-only")
    return found

def emulators_cgroups():
    mine = os.readlink("/proc/self/ns/cgroup")
    if mine != host["cgroup_ns"]:
        raise LookupError("a cgroup namespace of its own")
    return mine

def init_command_line():
    # PID 1's command line is world-readable: it named the emulator's Python, sandbox.py and the spec's host path
    line = open("/proc/1/cmdline", "rb").read().decode(errors="replace")
    leaked = [p for p in (host["state"], host["sandbox"], "sandbox.json") if p in line]
    if not leaked:
        raise LookupError("no host path in PID 1's command line")
    return leaked

SECRET = {secret!r}
attempt("see the host's folders", host_folders)  # first: before this kernel writes to its own /tmp
attempt("read the server's environment", grep_environ)
attempt("KAGGLE_ variables of the server", lambda: os.environ["KAGGLE_ESCAPE_PROBE"])
attempt("read the state's kaggle.json", lambda: open(host["kaggle_json"]).read())
attempt("read the state's config.json", lambda: open(host["config_json"]).read())
attempt("read a competition's solution.csv", lambda: open(host["solution"]).read())
attempt("write into the state folder", lambda: append(host["state"] + "/planted.txt"))
attempt("alter another version's submission.csv", lambda: append(host["victim"]))
attempt("read /etc/shadow", lambda: open("/etc/shadow").read())
COMP = "/kaggle/input/competitions/tiny-toxic"
attempt("read a mode-600 file of another user", lambda: open(COMP + "/private.txt").read())
attempt("write into the host's /tmp", lambda: append(host["host_tmp"]))
attempt("write into /kaggle/input", lambda: append(COMP + "/train.csv"))
attempt("write into /usr", lambda: append("/usr/planted.txt"))
attempt("connect to the emulator without internet", lambda: connect(host["port"]))
attempt("see interfaces beyond loopback", lambda: [n for _, n in socket.if_nameindex() if n != "lo"] or 1 / 0)
attempt("see other processes", other_processes)
attempt("run as root", lambda: 0 if os.getuid() == 0 else 1 / 0)
attempt("find a writable system mount (/sys/fs/cgroup)", writable_mounts)
attempt("share the emulator's cgroup namespace", emulators_cgroups)
attempt("read host paths in PID 1's command line", init_command_line)
attempt("find host paths in what Python shows", host_paths_in_python)
import subprocess
pip = subprocess.run([os.path.dirname(sys.executable) + "/pip", "--version"], capture_output=True, text=True)
print("PIP " + (pip.stdout or pip.stderr).replace("\n", " "), flush=True)
print("PREFIX " + sys.prefix, flush=True)
open("/tmp/private-tmp.txt", "w").write("a session's own /tmp works")
open("/kaggle/temp/t.txt", "w").write("and so does /kaggle/temp")
print("ESCAPES " + json.dumps(tried), flush=True)
print("SCRIPT " + __file__, flush=True)
"""


@pytest.fixture(scope="module")
def escapes(tmp_path_factory) -> dict[str, str]:
    """One adversarial kernel, run without internet, trying each escape the adversarial run found."""
    tmp = tmp_path_factory.mktemp("confined")
    state = tmp / "state"
    init_state(state, {"dataset_ready_seconds": 0.3, "scoring_seconds": 0.05})
    private = state / "competitions" / "tiny-toxic" / "data" / "private.txt"
    private.write_text("another user's secret\n")
    private.chmod(0o600)
    saved = {k: os.environ.get(k) for k in ("KAGGLE_KEY", "KAGGLE_ESCAPE_PROBE")}
    os.environ.update(KAGGLE_KEY=SECRET, KAGGLE_ESCAPE_PROBE="1")  # what the server was started with
    try:
        em = Emulator(state).start()
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    try:
        c = creds(em)
        api = Api(em.url, c["username"], c["key"])
        it = kernel_python.probe(em.kernels.executor.python)
        api.push("victim", "open('submission.csv', 'w').write('id,toxic\\n1,0.5\\n')\n")
        assert api.wait("victim")["status"] == "COMPLETE"
        victim = em.kernels.run_dir(em.store.state["kernels"]["testuser/victim"], 1) / "working" / "submission.csv"
        host_tmp = Path("/tmp") / f"kr-escape-{os.getpid()}.txt"
        paths = {
            "kaggle_json": str(state / "kaggle.json"),
            "config_json": str(state / "config.json"),
            "solution": str(state / "competitions" / "tiny-toxic" / "solution.csv"),
            "state": str(state),
            "victim": str(victim),
            "host_tmp": str(host_tmp),
            "port": em.port,
            "cgroup_ns": os.readlink("/proc/self/ns/cgroup"),
            "sandbox": str(Path(sandbox.__file__).parent),
            "python": sorted({it.prefix, it.base_prefix, str(Path(it.executable).parent)}),
        }
        source = ATTACKER.format(paths=json.dumps(paths), secret=SECRET)
        api.push("attacker", source, enableInternet=False, competitionDataSources=["tiny-toxic"])
        st = api.wait("attacker")
        log = api.ok("kernels.ListKernelSessionOutput", {"userName": "testuser", "kernelSlug": "attacker"})["log"]
        assert st["status"] == "COMPLETE", (st, log)
        text = "".join(e["data"] for e in json.loads(log))
        found = json.loads(text.split("ESCAPES ", 1)[1].splitlines()[0])
        found["script path"] = text.split("SCRIPT ", 1)[1].splitlines()[0]
        found["pip"] = text.split("PIP ", 1)[1].splitlines()[0]
        found["prefix"] = text.split("PREFIX ", 1)[1].splitlines()[0]
        found["victim after"] = victim.read_text()
        found["host tmp exists"] = str(host_tmp.exists())
        found["planted in state"] = str((state / "planted.txt").exists())
        return found
    finally:
        em.stop()


ESCAPES = [
    "read the server's environment",
    "KAGGLE_ variables of the server",
    "read the state's kaggle.json",
    "read the state's config.json",
    "read a competition's solution.csv",
    "write into the state folder",
    "alter another version's submission.csv",
    "read /etc/shadow",
    "read a mode-600 file of another user",
    "write into /kaggle/input",
    "write into /usr",
    "connect to the emulator without internet",
    "see interfaces beyond loopback",
    "see other processes",
    "run as root",
    "see the host's folders",
    "find a writable system mount (/sys/fs/cgroup)",
    "share the emulator's cgroup namespace",
    "read host paths in PID 1's command line",
    "find host paths in what Python shows",
]


@pytest.mark.parametrize("escape", ESCAPES)
def test_a_confined_kernel_cannot(escapes: dict[str, str], escape: str) -> None:
    assert escapes[escape].startswith("refused"), escapes[escape]


def test_a_confined_kernel_left_nothing_on_the_host(escapes: dict[str, str]) -> None:
    assert escapes["victim after"] == "id,toxic\n1,0.5\n"
    assert escapes["host tmp exists"] == "False" and escapes["planted in state"] == "False"
    assert escapes["script path"] == "/kaggle/src/script.py"  # tracebacks show Kaggle's path, not the host's


def test_a_confined_kernel_finds_its_python_whole_at_opt_venv(escapes: dict[str, str]) -> None:
    # the venv's scripts were written anew there: pip's #! line names /opt/venv, not the host's venv
    assert escapes["prefix"] == "/opt/venv"
    assert escapes["pip"].startswith("pip ") and "/opt/venv/lib/python3." in escapes["pip"], escapes["pip"]


def test_serve_refuses_where_kernels_cannot_be_confined(make_emulator, monkeypatch) -> None:
    from kaggle_runner.emulator.executor import Executor
    from kaggle_runner.errors import UserError

    monkeypatch.setattr(Executor, "confinement_problem", lambda self: "unshare: Operation not permitted")
    with pytest.raises(UserError, match="--unconfined"):
        make_emulator()
    assert make_emulator(unconfined=True).kernels.executor.unconfined


# -- 10. a merge cell that is not UTF-8, a line longer than a block -------------------------------------------------
@pytest.mark.parametrize("bad", [b"id,toxic\n1,0.5\n2,0.\xff7\n", b"id,toxic\n1,0.5\n\xfe2,0.7\n"])
def test_a_cell_that_is_not_utf8_is_one_line_naming_it(tmp_path: Path, make_kr, bad: bytes) -> None:
    _project(tmp_path)
    (tmp_path / "a.csv").write_text("id,toxic\n1,0.5\n2,0.7\n")
    (tmp_path / "b.csv").write_bytes(bad)
    r = make_kr(tmp_path)("merge", "a.csv", "b.csv", "-o", "out.csv", check=None)
    _one_line(r, "b.csv: line 3: not UTF-8 text (byte 0x", "save the file as UTF-8")
    assert not (tmp_path / "out.csv").exists()


def test_a_line_longer_than_a_block_names_its_line(tmp_path: Path, monkeypatch) -> None:
    from kaggle_runner.ensembles import table

    monkeypatch.setattr(table, "BLOCK", 1 << 20)  # a 1 GB line against 16 MiB blocks, scaled down
    path = tmp_path / "long.csv"
    with open(path, "w") as f:
        f.write("id,toxic\n1,0.5\n2," + "7" * (3 << 20) + "\n3,0.1\n")
    with pytest.raises(table.CsvError, match=r"long.csv: line 3: a line of more than 1 MiB"):
        table.read(path)


# -- a kernel with internet: the API, and nothing else on the host -------------------------------------------------
ONLINE = r"""import json, os, socket
from kagglesdk import KaggleClient
from kagglesdk.kernels.types.kernels_api_service import ApiListKernelsRequest
host = json.loads({paths!r})
tried = {{}}

def attempt(name, action):
    try:
        got = action()
    except Exception as e:
        tried[name] = "refused: " + type(e).__name__
    else:
        tried[name] = "ESCAPED: " + repr(got)[:200]

def read_service():
    with socket.create_connection(("127.0.0.1", host["service"]), timeout=3) as s:
        return s.recv(100)

def read_abstract():
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(3)
        s.connect(host["abstract"])
        return s.recv(100)

def share_the_hosts_ports():
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", host["service"]))
        except OSError as e:
            return "the host's port is taken here too: " + str(e)
    raise LookupError("a network of its own")

attempt("read a service on the host's 127.0.0.1", read_service)
attempt("read a host abstract unix socket", read_abstract)
attempt("share the host's ports", share_the_hosts_ports)
with KaggleClient() as k:
    listed = k.kernels.kernels_api_client.list_kernels(ApiListKernelsRequest())
print("API", len(listed.kernels or []) > 0, flush=True)
print("ONLINE " + json.dumps(tried), flush=True)
"""


def test_a_kernel_with_internet_reaches_the_api_and_nothing_else_on_the_host(api, emulator) -> None:
    """Kernels with internet shared the host's network namespace: they read a service on its 127.0.0.1, read a
    host abstract unix socket, and bound a host port."""
    import socket

    service = socket.create_server(("127.0.0.1", 0))
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind(f"\0kr-probe-{os.getpid()}")
    abstract.listen()
    served = []

    def serve(listener) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            served.append(1)
            conn.sendall(b"host secret")
            conn.close()

    import threading

    for listener in (service, abstract):
        threading.Thread(target=serve, args=(listener,), daemon=True).start()
    try:
        paths = {"service": service.getsockname()[1], "abstract": f"\0kr-probe-{os.getpid()}"}
        api.push("online", ONLINE.format(paths=json.dumps(paths)), enableInternet=True)
        st = api.wait("online", 1, timeout=60)
        log = api.ok("kernels.ListKernelSessionOutput", {"userName": "testuser", "kernelSlug": "online"})["log"]
        text = "".join(e["data"] for e in json.loads(log))
        assert st["status"] == "COMPLETE", (st, text)
    finally:
        service.close()
        abstract.close()
    assert "API True" in text  # the emulator's API, through the session's forwarder
    tried = json.loads(text.split("ONLINE ", 1)[1].splitlines()[0])
    assert all(v.startswith("refused") for v in tried.values()) and len(tried) == 3, tried
    assert not served


# -- per-session limits: memory, processes, disk, /dev/shm ----------------------------------------------------------
HOG = {
    "memory": "import time\nheld = b'x' * 300_000_000\nprint('holding', flush=True)\ntime.sleep(60)\n",
    "working": "import time\nopen('big.bin', 'wb').write(b'x' * 50_000_000)\ntime.sleep(60)\n",
    "scratch": "import time\nopen('/tmp/big.bin', 'wb').write(b'x' * 50_000_000)\ntime.sleep(60)\n",
}
STOPPED = {
    "memory": "used more than 0.125 GiB of memory",
    "working": "wrote more than 0.0125 GiB to /kaggle/working",
    "scratch": "wrote more than 0.0125 GiB to /tmp and /kaggle/temp",
}
SMALL = {
    "kernel_memory_bytes": 2**27,
    "kernel_max_processes": 32,
    "kernel_working_bytes": 2**30 // 80,
    "kernel_scratch_bytes": 2**30 // 80,
}


@pytest.mark.parametrize("hog", sorted(HOG))
def test_a_session_past_a_limit_is_stopped_with_the_reason(make_emulator, hog: str) -> None:
    """Kernels had no memory, process or disk limits: one could take the machine from every other session."""
    em = make_emulator(settings=SMALL)
    c = creds(em)
    api = Api(em.url, c["username"], c["key"])
    api.push("hog", HOG[hog], enableInternet=False)
    st = api.wait("hog", 1, timeout=50)
    assert st["status"] == "ERROR" and STOPPED[hog] in st["failureMessage"], st


def test_a_fork_bomb_gets_no_more_processes_than_its_limit_and_dev_shm_is_bounded(make_emulator) -> None:
    bomb = (
        "import os, time\n"
        "shm = os.statvfs('/dev/shm')\n"
        "print('shm', shm.f_blocks * shm.f_frsize, flush=True)\n"
        "children = 0\n"
        "for _ in range(200):\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(30)\n"
        "            os._exit(0)\n"
        "        children += 1\n"
        "    except BlockingIOError:\n"
        "        break\n"
        "print('children', children, flush=True)\n"
        "os._exit(0)\n"
    )
    em = make_emulator(settings={**SMALL, "kernel_max_processes": 40})
    c = creds(em)
    api = Api(em.url, c["username"], c["key"])
    api.push("bomb", bomb, enableInternet=False)
    api.wait("bomb", 1, timeout=50)
    log = api.ok("kernels.ListKernelSessionOutput", {"userName": "testuser", "kernelSlug": "bomb"})["log"]
    text = "".join(e["data"] for e in json.loads(log))
    assert f"shm {2**26}" in text, text
    assert int(text.split("children ")[1].split()[0]) < 40, text


def test_submit_says_what_is_left_today_and_refuses_a_file_already_submitted(
    tmp_path: Path, make_kr, make_emulator
) -> None:
    """v12's submission.csv had the sha256 of v11's, already scored, and `kr submit v12` spent a daily slot on it
    without a word; kr never asked how many were left."""
    em = make_emulator()
    definition = em.store.root / "competitions" / "tiny-toxic" / "competition.json"
    definition.write_text(json.dumps({**json.loads(definition.read_text()), "dailyLimit": 2}))
    _project(tmp_path)
    kr = make_kr(tmp_path, em)
    sample = (em.store.root / "competitions" / "tiny-toxic" / "data" / "sample_submission.csv").read_text()
    (tmp_path / "a.csv").write_text(sample)
    first = kr("submit", "a.csv", "--wait")
    assert "1 submission left today to tiny-toxic; Kaggle's day resets at 00:00 UTC, in " in first.stderr
    (tmp_path / "same.csv").write_text(sample)  # another name, the same content
    again = kr("submit", "same.csv", check=2)
    refusal = again.stderr.splitlines()[-1]
    assert refusal.startswith("kr: error: same.csv (sha256 ") and "already submitted to tiny-toxic as #" in refusal
    assert "(public 0.5" in refusal and refusal.endswith("--force sends it again")
    assert kr("submit", "same.csv", "--force").returncode == 0
    none_left = kr("submit", "a.csv", "--force", check=2)
    assert "no submissions left today to tiny-toxic (2 made); Kaggle's day resets at 00:00 UTC" in none_left.stderr
    assert sum(q["route"].endswith("/CreateSubmission") for q in em.requests) == 2
