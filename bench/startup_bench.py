"""Benchmark: start-up of `kr --help`, `kr ls` (100 runs in the ledger) and `kr status vN` (one API call to the
emulator) against `kaggle --help`, medians of several runs, each in a fresh process."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Local, Row, measure, median_of  # noqa: E402

BIN = Path(sys.executable).parent


def _project(local: Local) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from kaggle_runner.ledger.db import open_ledger

    root = local.work / "proj"
    (root / "k").mkdir(parents=True)
    (root / "k" / "main.py").write_text("print('hello')\n")
    (root / "kr.yaml").write_text(
        "competition: tiny-toxic\nkernels:\n  main: {folder: k, entry: main.py, title: Main Kernel}\n"
        # a team's tracking server named (not reached): kr --help and kr ls must not load the MLflow client
        "tracking: {mlflow: 'http://127.0.0.1:9'}\n"
    )
    import subprocess

    # one real kernel version (v1) so `kr status v1` asks the emulator about something that exists
    subprocess.run([str(BIN / "kr"), "push"], cwd=root, env=local.kr_env, check=True, capture_output=True)
    ledger = open_ledger(root)
    for v in range(2, 101):
        rid = ledger.begin_push("main", f"{local.user}/main", "cpu", "", f"try {v}", "0" * 40, False, {"v": v}, {})
        ledger.finish_push(rid, v)
        ledger.set_status(rid, "COMPLETE", None)  # ended runs: `kr ls` reads the ledger and asks Kaggle nothing
        ledger.record_metrics(
            rid,
            [{"name": "auc", "split": "validation", "epoch": e, "value": 0.9 + e / 100, "line": e} for e in range(5)],
        )
    ledger.close()
    return root


def run(quick: bool = False) -> list[Row]:
    repeats = 3 if quick else 9
    local = Local()
    try:
        root = _project(local)
        kaggle_t, kaggle_m = median_of(repeats, lambda: measure([str(BIN / "kaggle"), "--help"], env=local.kaggle_env))
        rows = []
        # targets are ratios to the peer timed in the same run: on a loaded machine both slow down together
        for args, note, most in (
            (["--help"], "", 0.5),
            (["ls"], " (100 runs in the ledger, tracking on)", None),
            (["status", "v1"], " (one API call)", None),
        ):
            cmd = [str(BIN / "kr"), *args]
            t, m = median_of(repeats, lambda cmd=cmd: measure(cmd, env=local.kr_env, cwd=str(root)))
            target = f"at most {most}x kaggle --help" if most else ""
            met = t / kaggle_t <= most if most else None
            rows.append(
                Row(
                    f"start-up: kr {' '.join(args)}{note}, median of {repeats}",
                    f"{t:.3f} s, {m:.0f} MiB",
                    f"kaggle --help {kaggle_t:.3f} s, {kaggle_m:.0f} MiB",
                    f"{t / kaggle_t:.2f}x the time",
                    target,
                    met,
                    f"kr {' '.join(args)}  (bench/startup_bench.py)",
                )
            )
        return rows
    finally:
        local.close()


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
