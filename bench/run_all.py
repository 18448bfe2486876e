"""`make bench`: every benchmark in bench/, one table of figures measured side by side in this run, printed and
written to bench/results.md with the machine it ran on. `--quick` shrinks every size (for a smoke check)."""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import api_economy_bench  # noqa: E402
import emulator_roundtrip  # noqa: E402
import merge_bench  # noqa: E402
import metrics_bench  # noqa: E402
import startup_bench  # noqa: E402
import sweep_bench  # noqa: E402
import upload_bench  # noqa: E402
import xla_bench  # noqa: E402

BENCHMARKS = [
    ("start-up", startup_bench),
    ("merge", merge_bench),
    ("metrics from logs", metrics_bench),
    ("packaging and upload", upload_bench),
    ("API economy", api_economy_bench),
    ("sweeps", sweep_bench),
    ("the emulator", emulator_roundtrip),
    ("the training loop", xla_bench),
]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = int(
            next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1]
        )
        mem_text = f", {mem / 2**20:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        mem_text = ""
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu}, {os.cpu_count()} cores{mem_text}, {system}, Python {platform.python_version()}"


def main() -> None:
    quick = "--quick" in sys.argv
    started = time.time()
    lines = ["| benchmark | figure | kr | peer | ratio | target | met |", "|---|---|---|---|---|---|---|"]
    for name, module in BENCHMARKS:
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        for row in module.run(quick=quick):
            met = "" if row.met is None else ("yes" if row.met else "**no**")
            lines.append(f"| {name} | {row.figure} | {row.kr} | {row.peer} | {row.ratio} | {row.target} | {met} |")
    minutes = (time.time() - started) / 60
    text = "\n".join(
        [
            "# Benchmark results",
            "",
            f"Measured {time.strftime('%Y-%m-%d')} by `make bench`{' --quick' if quick else ''} in {minutes:.1f} min "
            f"on: {machine()}.",
            "Every peer was measured in the same run on the same machine; times are medians where the figure says so.",
            "Re-run one benchmark with the command in bench/<name>.py's docstring, "
            "e.g. `.venv/bin/python bench/merge_bench.py`.",
            "",
            *lines,
            "",
        ]
    )
    print(text)
    if not quick:
        (HERE / "results.md").write_text(text)


if __name__ == "__main__":
    main()
