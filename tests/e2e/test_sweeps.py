"""End to end, `kr sweep` against the emulator with a GPU cap of 2 (run on the CPU): the grid's points as versions,
two at a time, pulled and compared with their params; a killed sweep resumed without a point pushed twice; the
quota holding the rest; `--set` and rt.params()."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from helpers import KR, write_project

pytestmark = pytest.mark.slow

KERNEL = """import json, os, time
p = json.loads(os.environ["KR_PARAMS"])
if p.get("fail"):
    raise SystemExit("asked to fail")
time.sleep(float(p.get("sleep", 2)))
print(f"[RESULT]: Validation. Epoch: 0, score: {p['lr'] * 1e4 + p['smoothing']:.5f}", flush=True)
open("submission.csv", "w").write("id,toxic\\n000400,0.5\\n")
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(
        tmp_path / "proj",
        kernels={"main": {"folder": "kernels/main", "entry": "main.py", "title": "Sweep Kernel"}},
        files={"kernels/main/main.py": KERNEL},
        params={"lr": "1e-5", "smoothing": 0.05, "sleep": 2},  # "1e-5" as YAML 1.1 reads it: text, kr makes it a number
    )


def _gpu_emulator(make_emulator, **settings):
    em = make_emulator(fallback_cpu=True, settings={"max_sessions": {"cpu": 5, "gpu": 2, "tpu": 1}, **settings})
    em.kernels.executor.gpus = 0  # a GPU push runs on the CPU, counted against the GPU cap and quota
    return em


def _versions(em) -> int:
    return len(em.store.state["kernels"].get("testuser/main", {}).get("versions", []))


def test_a_grid_runs_two_at_a_time_and_compares_with_its_params(project: Path, make_emulator, make_kr) -> None:
    em = _gpu_emulator(make_emulator)
    kr = make_kr(project, em)
    r = kr("sweep", "lr=1e-5,2e-5", "smoothing=0.05,0.1", "--accel", "gpu", "-m", "grid")
    assert "s1: 4 of 4 points COMPLETE" in r.stdout, r.stderr
    assert _versions(em) == 4
    saves = [e for e in em.requests if e["route"].endswith("SaveKernel")]
    # two pushes fill the cap; each later point is refused at most once before a slot frees
    assert len(saves) <= 4 + 2
    sessions = [v for v in em.store.state["kernels"]["testuser/main"]["versions"]]
    overlap = max(sum(1 for w in sessions if w["started"] <= v["started"] < w["ended"]) for v in sessions)
    assert overlap == 2  # never more than the cap, and it was used
    cmp = json.loads(kr("compare", "s1", "--json").stdout)
    assert cmp["columns"] == ["v1", "v2", "v3", "v4"]
    assert cmp["params"]["lr"] == [1e-5, 1e-5, 2e-5, 2e-5] and cmp["params"]["smoothing"] == [0.05, 0.1, 0.05, 0.1]
    assert cmp["metrics"]["validation.score"] == [0.15, 0.2, 0.25, 0.3]  # each run saw its own point
    rows = json.loads(kr("ls", "--sweep", "s1", "--json").stdout)
    assert [r["message"] for r in rows] == [
        "grid lr=1e-05 smoothing=0.05",
        "grid lr=1e-05 smoothing=0.1",
        "grid lr=2e-05 smoothing=0.05",
        "grid lr=2e-05 smoothing=0.1",
    ]
    assert all((project / ".kr" / "runs" / f"v{n}" / "submission.csv").exists() for n in range(1, 5))  # pulled
    assert "lr" in kr("ls", "--params", "lr,smoothing").stdout
    png = project / "by-lr.png"
    out = kr("plot", "s1", "--metric", "validation.score", "--by", "lr", "-o", str(png)).stdout
    assert "validation.score of 4 runs against lr" in out and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "4 curves" in kr("plot", "s1", "--metric", "validation.score", "-o", str(png)).stdout


def test_a_killed_sweep_resumes_without_pushing_a_point_twice(project: Path, make_emulator, make_kr) -> None:
    em = _gpu_emulator(make_emulator)
    kr = make_kr(project, em)
    proc = subprocess.Popen(
        [*KR, "sweep", "lr=1e-5,2e-5", "smoothing=0.05,0.1", "--accel", "gpu"],
        cwd=project,
        env=kr.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while _versions(em) < 2 and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    r = kr("sweep", "resume", "s1")
    assert "s1: 4 of 4 points COMPLETE" in r.stdout, r.stderr
    assert _versions(em) == 4
    db = sqlite3.connect(project / ".kr" / "ledger.sqlite")
    points = [p for (p,) in db.execute("SELECT sweep_point FROM runs WHERE state = 'pushed' ORDER BY sweep_point")]
    assert points == [0, 1, 2, 3]


def test_the_quota_holds_the_rest_of_a_sweep_with_one_line(project: Path, make_emulator, make_kr) -> None:
    em = _gpu_emulator(make_emulator, gpu_quota_hours=7 / 3600)  # 7 s of GPU a week: about two 2-3 s runs
    kr = make_kr(project, em)
    r = kr("sweep", "lr=1e-5,2e-5,3e-5,4e-5", "--accel", "gpu", "--max-parallel", "1", check=4)
    held = [line for line in r.stderr.splitlines() if "holding" in line]
    assert len(held) == 1 and "GPU quota left" in held[0] and "kr sweep resume" in held[0], r.stderr
    assert 1 <= _versions(em) < 4
    q = json.loads(kr("quota", "--json").stdout)
    assert q["gpu"]["left"] < q["gpu"]["mean_run"] and q["gpu"]["allowed"] == pytest.approx(7 / 3600, abs=1e-3)


def test_set_reaches_the_kernel_and_bad_sets_are_one_line(project: Path, emulator, make_kr) -> None:
    kr = make_kr(project, emulator)
    kr("push", "--set", "lr=3e-5", "--set", "sleep=0", "--wait")
    assert "score: 0.35000" in kr("logs", "v1").stdout
    assert json.loads(kr("show", "v1", "--json").stdout)["params"] == {"lr": 3e-5, "smoothing": 0.05, "sleep": 0}
    for args, text in (
        (["--set", "momentum=0.9"], "'momentum' is not in kr.yaml params (lr, sleep, smoothing); add --set-new"),
        (["--set", "lr=[1,"], "--set lr: '[1,' is not a YAML value"),
        (["--set", "lr"], "--set: 'lr' is not key=value"),
    ):
        bad = kr("push", *args, check=2)
        assert text in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert kr("push", "--set", "momentum=0.9", "--set-new", "--set", "sleep=0").returncode == 0


def test_wait_follows_many_runs_in_one_view_and_exits_1_if_any_errored(project: Path, emulator, make_kr) -> None:
    kr = make_kr(project, emulator)
    kr("push", "--set", "sleep=1")
    kr("push", "--set-new", "--set", "fail=true")
    kr("push", "--set", "sleep=2")
    r = kr("wait", "v1", "v2", "v3", check=1)
    last = {line.split()[1]: line for line in r.stderr.splitlines() if line.strip().startswith("main v")}
    assert "COMPLETE" in last["v1"] and "ERROR" in last["v2"] and "COMPLETE" in last["v3"], r.stderr
    assert "validation.score 0.15" in last["v1"]
    assert (project / ".kr" / "runs" / "v3" / "submission.csv").exists()  # each completed run pulled
    assert kr("wait", "--running").stdout.strip() == "no run of this project is running"


def test_on_a_terminal_the_sweep_is_one_live_table(project: Path, make_emulator, make_kr) -> None:
    """Run under a pseudo-terminal (`script`), as a person sees it: the points in one table that fills in."""
    import shlex

    em = _gpu_emulator(make_emulator)
    kr = make_kr(project, em)
    command = " ".join(shlex.quote(a) for a in [*KR, "sweep", "lr=1e-5,2e-5", "sleep=0.5", "--accel", "gpu"])
    r = subprocess.run(
        ["script", "-qec", command, "/dev/null"],
        cwd=project,
        env={**kr.env, "COLUMNS": "80", "LINES": "40", "TERM": "xterm"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    seen = r.stdout
    assert r.returncode == 0, seen
    assert "point" in seen and "params" in seen and "metric" in seen  # the table's header
    assert "validation.score 0.15" in seen and "validation.score 0.25" in seen  # each point's headline
    assert "s1: pushed main v1 lr=1e-05 sleep=0.5 (1 to go)" in seen and "s1: 2 of 2 points COMPLETE" in seen
    assert "downloading" not in seen and "unchanged" not in seen  # no chatter of each push and pull


def test_a_tpu_sweep_runs_one_point_at_a_time_without_a_refused_push(project: Path, make_emulator, make_kr) -> None:
    """Kaggle allows one TPU session (queued ones count): kr knows it, so no push is spent learning it."""
    em = make_emulator(fallback_cpu=True)  # TPU pushes run on the CPU, under the TPU cap of 1
    kr = make_kr(project, em)
    r = kr("sweep", "lr=1e-5,2e-5,3e-5", "sleep=0.5", "--accel", "tpu", timeout=180)
    assert "s1: 3 of 3 points COMPLETE" in r.stdout, r.stderr
    saves = [e for e in em.requests if e["route"].endswith("SaveKernel")]
    assert len(saves) == 3 and "session count" not in r.stderr  # none refused
    sessions = em.store.state["kernels"]["testuser/main"]["versions"]
    assert all(a["ended"] <= b["started"] for a, b in zip(sessions, sessions[1:], strict=False))  # one at a time
