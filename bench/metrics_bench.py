"""Benchmark: `kr metrics LOG --json` on a 200 MB Kaggle JSON log against a bare Python line-by-line read of the same
file: wall time and peak memory. Run: .venv/bin/python bench/metrics_bench.py [--quick] (20 MB)."""

from __future__ import annotations

import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row, measure, median_of  # noqa: E402

BIN = Path(sys.executable).parent
BARE = "import sys\nfor line in open(sys.argv[1], encoding='utf-8'):\n    pass\n"
DECODE = (  # the floor of reading Kaggle's JSON log at all: each line read and its event decoded
    "import json, sys\nfor line in open(sys.argv[1], encoding='utf-8'):\n"
    "    line = line.strip().lstrip('[,').rstrip(']')\n    if line:\n        json.loads(line)\n"
)


def training_events(rng: random.Random) -> list[str]:
    """One epoch as a kernel prints it: progress-bar updates and chatter, then the epoch's metric lines."""
    out = [f"2026-11-30 12:{rng.randint(0, 59):02d}:01 INFO loading shard {rng.randint(0, 99)} from /kaggle/input\n"]
    for step in range(0, 1000, 5):
        bar = "█" * (step // 100) + " " * (10 - step // 100)
        out.append(
            f"\r{step // 10:3d}%|{bar}| {step}/1000 [00:{step % 60:02d}<00:15, 36.2it/s, loss={rng.random():.3f}]"
        )
        if step % 100 == 0:
            out.append(f"\nUserWarning: gradient accumulation at step {step} is {rng.random():.3f} seconds behind\n")
    epoch = rng.randint(1, 30)
    out += [
        f"\n[RESULT]: Validation. Epoch: {epoch}, loss: {rng.random():.5f}, auc: {rng.random():.5f}\n",
        json.dumps({"kr_metric": 1, "split": "train", "epoch": epoch, "metrics": {"loss": rng.random()}}) + "\n",
        "{\n",
        f'  "epoch": {epoch},\n',
        f'  "val_auc": {rng.random()}\n',
        "}\n",
    ]
    return out


def dense_events(rng: random.Random) -> list[str]:
    """A log that is nothing but metric lines, every shape: the parser's worst case."""
    epoch = rng.randint(1, 30)
    return [
        f"Epoch {epoch}/30\n",
        f"50/50 [==============================] - 12s 240ms/step - loss: {rng.random():.4f} - val_auc: 0.9\n",
        f"[RESULT]: Validation. Epoch: {epoch}, loss: {rng.random():.5f}, auc: {rng.random():.5f}\n",
        json.dumps({"epoch": epoch, "train": {"loss": rng.random()}, "validation": {"auc": rng.random()}}) + "\n",
        f"Train Step {rng.randint(0, 9999)}, loss: {rng.random():.4f}, lr: 2e-05\n",
    ]


def write_log(path: Path, megabytes: int, make) -> None:
    """Kaggle's persisted log: a JSON array of {stream_name, time, data}, one event per line."""
    rng, size, first, t = random.Random(1), 0, True, 0.0
    with open(path, "w", encoding="utf-8") as f:
        f.write("[")
        while size < megabytes << 20:
            for data in make(rng):
                t += 0.01
                text = ("" if first else "\n,") + json.dumps(
                    {"stream_name": "stdout", "time": round(t, 6), "data": data}, separators=(",", ":")
                )
                first = False
                size += f.write(text)
        f.write("]")


def run(quick: bool = False) -> list[Row]:
    megabytes = 20 if quick else 200
    rows = []
    cmd = [str(BIN / "kr"), "metrics", "", "--json"]
    with tempfile.TemporaryDirectory(prefix="kr-bench-metrics-") as tmp:
        log = Path(tmp) / "kernel.log"
        cmd[2] = str(log)
        write_log(log, megabytes, training_events)
        kr_t, kr_m = median_of(3, lambda: measure(cmd))
        bare_t, bare_m = median_of(3, lambda: measure([sys.executable, "-c", BARE, str(log)]))
        decode_t, _ = median_of(3, lambda: measure([sys.executable, "-c", DECODE, str(log)]))
        figure = f"`kr metrics --json` on a {megabytes} MB Kaggle log of a training run (median of 3)"
        ratio = kr_t / bare_t
        rows.append(
            Row(
                figure,
                f"{kr_t:.1f} s, {kr_m:.0f} MiB",
                f"{bare_t:.2f} s, {bare_m:.0f} MiB (bare Python line-by-line read)",
                f"{ratio:.1f}x the time",
                "within 5x of the bare read; < 30 s and < 300 MB",
                ratio <= 5 and kr_t < 30 and kr_m < 300,
                ".venv/bin/python bench/metrics_bench.py",
            )
        )
        rows.append(
            Row(
                figure,
                f"{kr_t:.1f} s",
                f"{decode_t:.2f} s (each line read and its event decoded)",
                f"{kr_t / decode_t:.1f}x the time",
                "",
                None,
                ".venv/bin/python bench/metrics_bench.py",
            )
        )
        write_log(log, megabytes, dense_events)
        kr_t, kr_m = measure(cmd)
        bare_t, bare_m = measure([sys.executable, "-c", BARE, str(log)])
        rows.append(
            Row(
                f"`kr metrics --json` on a {megabytes} MB Kaggle log of nothing but metric lines (the worst case)",
                f"{kr_t:.1f} s, {kr_m:.0f} MiB",
                f"{bare_t:.2f} s, {bare_m:.0f} MiB (bare Python line-by-line read)",
                f"{kr_t / bare_t:.0f}x the time",
                "< 30 s and < 300 MB",
                kr_t < 30 and kr_m < 300,
                ".venv/bin/python bench/metrics_bench.py",
            )
        )
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(f"{row.figure}: kr {row.kr}; peer {row.peer}; {row.ratio} (target {row.target}; met: {row.met})")
