"""Benchmark: `kr merge` of 5 files x 2,000,000 rows x 2 target columns (rows shuffled differently in each file),
against a straightforward pandas script (read_csv, align, mean, to_csv) and a pyarrow read + write floor."""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row, measure, median_of  # noqa: E402

FILES, ROWS = 5, 2_000_000
PANDAS = """
import sys, pandas as pd
paths, out = sys.argv[1:-1], sys.argv[-1]
frames = [pd.read_csv(p, dtype={"id": str}).set_index("id") for p in paths]
first = frames[0]
aligned = [f.reindex(first.index) for f in frames]
merged = sum(aligned) / len(aligned)
merged.to_csv(out, float_format=None)
"""
FLOOR = """
import sys, pyarrow as pa, pyarrow.csv as c
paths, out = sys.argv[1:-1], sys.argv[-1]
tables = [c.read_csv(p, convert_options=c.ConvertOptions(column_types={"id": pa.string()})) for p in paths]
c.write_csv(tables[0], out)
"""


def make_inputs(folder: Path, rows: int) -> list[Path]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv

    rng = np.random.default_rng(0)
    ids = pa.array([f"{i:08d}" for i in range(rows)])
    paths = []
    for k in range(FILES):
        order = pa.array(np.arange(rows) if k == 0 else rng.permutation(rows))
        table = pa.table({"id": ids.take(order), "toxic": rng.random(rows), "severe_toxic": rng.random(rows)})
        path = folder / f"sub{k}.csv"
        with open(path, "wb") as f:  # an unquoted header, as pandas and most kernels write it
            f.write(b"id,toxic,severe_toxic\n")
            pcsv.write_csv(table, f, pcsv.WriteOptions(quoting_style="none", include_header=False))
        paths.append(path)
    return paths


def run(quick: bool = False) -> list[Row]:
    rows, repeats = (200_000, 1) if quick else (ROWS, 5)
    folder = Path(tempfile.mkdtemp(prefix="kr-bench-merge-"))
    try:
        return _run(folder, rows, repeats)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(folder: Path, rows: int, repeats: int) -> list[Row]:
    paths = [str(p) for p in make_inputs(folder, rows)]
    kr = [sys.executable, "-m", "kaggle_runner.cli", "merge", *paths, "-o", str(folder / "kr.csv")]
    pandas = [sys.executable, "-c", PANDAS, *paths, str(folder / "pandas.csv")]
    floor = [sys.executable, "-c", FLOOR, *paths, str(folder / "floor.csv")]
    measure(kr)  # warm the page cache for everyone
    # kr and the floor alternate, so that a slow spell of the machine (common on shared VMs) hits both alike
    pairs = [(measure(kr, cwd=str(folder)), measure(floor)) for _ in range(repeats)]
    kr_t, kr_m = (statistics.median(p[0][i] for p in pairs) for i in (0, 1))
    fl_t, fl_m = (statistics.median(p[1][i] for p in pairs) for i in (0, 1))
    pd_t, pd_m = median_of(min(repeats, 3), lambda: measure(pandas))  # 20 s a run, and never close to its target
    size = f"{FILES} x {rows:,} rows x 2 columns"
    cmd = "python bench/merge_bench.py"
    return [
        Row(
            f"merge {size}: wall time (median of {repeats})",
            f"{kr_t:.2f} s",
            f"pandas {pd_t:.2f} s",
            f"{pd_t / kr_t:.1f}x faster",
            ">= 3x faster than pandas",
            pd_t / kr_t >= 3,
            cmd,
        ),
        Row(
            f"merge {size}: peak memory",
            f"{kr_m:.0f} MiB",
            f"pandas {pd_m:.0f} MiB",
            f"{kr_m / pd_m:.2f}x",
            "less than pandas",
            kr_m < pd_m,
            cmd,
        ),
        Row(
            f"merge {size}: wall time vs a pyarrow read+write floor",
            f"{kr_t:.2f} s",
            f"floor {fl_t:.2f} s",
            f"{kr_t / fl_t:.2f}x the floor",
            "within 1.5x of the floor",
            kr_t <= 1.5 * fl_t,
            cmd,
        ),
        Row(
            f"merge {size}: peak memory vs the floor",
            f"{kr_m:.0f} MiB",
            f"floor {fl_m:.0f} MiB",
            f"{kr_m / fl_m:.2f}x",
            "",
            None,
            cmd,
        ),
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
