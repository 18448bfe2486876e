"""Shared by the benchmarks: a row of the results table, and wall time + peak memory of one child process.
Each benchmark module has run(quick) -> list[Row]; bench/run_all.py prints and writes them as one table."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from dataclasses import dataclass
from typing import Any, Sequence


@dataclass
class Row:
    figure: str       # what is measured
    kr: str           # kr's value, with its unit
    peer: str         # the peer's value and who the peer is
    ratio: str        # kr relative to the peer, the way the target reads (e.g. "4.1x faster")
    target: str       # "" when the issue sets none
    met: bool | None  # None when there is no target
    command: str      # how to re-run exactly this figure


def measure(cmd: Sequence[str], env: dict[str, str] | None = None, cwd: str | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one process, read with wait4 so nothing else is counted."""
    t0 = time.perf_counter()
    p = subprocess.Popen(list(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode(errors="replace") if p.stderr else ""
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {err[-2000:]}")
    return wall, usage.ru_maxrss / 1024


def median_of(n: int, fn: Any) -> tuple[float, ...]:
    """Run fn() n times; the median of each element of the tuples it returns."""
    results = [fn() for _ in range(n)]
    return tuple(statistics.median(r[i] for r in results) for i in range(len(results[0])))
