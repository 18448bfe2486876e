"""Shared by the benchmarks: a row of the results table, and wall time + peak memory of one child process.
Each benchmark module has run(quick) -> list[Row]; bench/run_all.py prints and writes them as one table."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Row:
    figure: str  # what is measured
    kr: str  # kr's value, with its unit
    peer: str  # the peer's value and who the peer is
    ratio: str  # kr relative to the peer, the way the target reads (e.g. "4.1x faster")
    target: str  # "" when the issue sets none
    met: bool | None  # None when there is no target
    command: str  # how to re-run exactly this figure


TIME = "/usr/bin/time"


def measure(cmd: Sequence[str], env: dict[str, str] | None = None, cwd: str | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one process. The peak comes from GNU time where it exists: a child forked
    from this (large) benchmark process would otherwise start its high-water mark at our size."""
    import tempfile

    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        wrapped = [TIME, "-f", "%M", "-o", report.name, *cmd] if os.path.exists(TIME) else list(cmd)
        t0 = time.perf_counter()
        p = subprocess.Popen(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        err = p.stderr.read().decode(errors="replace") if p.stderr else ""
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {err[-2000:]}")
        lines = report.read().split()
        peak_kb = int(lines[-1]) if wrapped[0] == TIME and lines else usage.ru_maxrss
    return wall, peak_kb / 1024


def median_of(n: int, fn: Any) -> tuple[float, ...]:
    """Run fn() n times; the median of each element of the tuples it returns."""
    results = [fn() for _ in range(n)]
    return tuple(statistics.median(r[i] for r in results) for i in range(len(results[0])))


class Local:
    """A local Kaggle for a benchmark: an in-process emulator, its request log, and environments for
    `kr` (KR_KAGGLE_URL) and for the official `kaggle` CLI (proxy mode, as the conformance tests run it)."""

    def __init__(self, fallback_cpu: bool = False, **settings: Any):
        import json
        import sys
        import tempfile
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from kaggle_runner.emulator import Emulator
        from kaggle_runner.emulator.seed import init_state

        self.work = Path(tempfile.mkdtemp(prefix="kr-bench-"))
        state = self.work / "state"
        init_state(state, {"dataset_ready_seconds": 0.2, "scoring_seconds": 0.05, **settings})
        self.em = Emulator(state, fallback_cpu=fallback_cpu).start()
        home = self.work / "home"
        (home / ".kaggle").mkdir(parents=True)
        (home / ".kaggle" / "kaggle.json").write_text((state / "kaggle.json").read_text())
        (home / ".kaggle" / "kaggle.json").chmod(0o600)
        base = {
            k: v for k, v in os.environ.items() if not k.startswith(("KAGGLE_", "KR_")) and "PROXY" not in k.upper()
        }
        self.kaggle_env = {
            **base,
            "HOME": str(home),
            "KAGGLE_API_ENVIRONMENT": "LOCALHOST",
            "HTTP_PROXY": self.em.url,
            "TMPDIR": str(self.work),
        }
        self.kr_env = {**base, "HOME": str(home), "KR_KAGGLE_URL": self.em.url, "KAGGLE_CONFIG_DIR": str(state)}
        self.user = json.loads((state / "kaggle.json").read_text())["username"]

    def mark(self) -> int:
        return len(self.em.requests)

    def since(self, mark: int) -> list[dict[str, Any]]:
        return list(self.em.requests[mark:])

    def close(self) -> None:
        import shutil

        self.em.stop()
        shutil.rmtree(self.work, ignore_errors=True)  # up to a few GB of uploads


ROOT = Path(__file__).resolve().parents[1]


def kernel_env(**extra: str) -> dict[str, str]:
    """This environment without kr's, Kaggle's and PJRT's variables, kaggle_runner importable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KR_", "KAGGLE_", "PJRT_"))}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def smoke_kernel(python: Path | str, params: dict[str, Any], **env: str) -> str:
    """Run kernels/smoke/main.py with `python` on the emulator's tiny-toxic data, as a session would; its stdout."""
    import json
    import shutil
    import tempfile

    from kaggle_runner.emulator.seed import write_competition

    with tempfile.TemporaryDirectory(prefix="kr-bench-smoke-") as tmp:
        work = Path(tmp)
        data = write_competition(work / "state") / "data"
        (work / "input" / "competitions").mkdir(parents=True)
        (work / "input" / "competitions" / "tiny-toxic").symlink_to(data)
        shutil.copy(ROOT / "kernels" / "smoke" / "main.py", work / "main.py")
        full = kernel_env(KR_PARAMS=json.dumps(params), KAGGLE_INPUT_DIR=str(work / "input"), **env)
        r = subprocess.run([str(python), "main.py"], cwd=work, env=full, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"the smoke kernel failed: {r.stderr[-2000:]}")
        return r.stdout
