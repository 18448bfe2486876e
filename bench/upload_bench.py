"""Benchmark: a 1 GB folder of mixed files (one large binary, many text files in a subfolder, small files) sent to
the emulator by `kr push` and by the official `kaggle datasets create/version --dir-mode zip`: wall time and peak
memory of the first push, and bytes uploaded by a second push with nothing changed."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Local, Row, measure  # noqa: E402

BIN = Path(sys.executable).parent


def make_folder(root: Path, total_mb: int) -> None:
    root.mkdir(parents=True)
    big = total_mb * 6 // 10
    with open(root / "embeddings.bin", "wb") as f:  # incompressible, like model weights
        for _ in range(big):
            f.write(os.urandom(1 << 20))
    (root / "texts").mkdir()
    line = "000123,the quick brown fox jumps over the lazy dog 0.12345\n" * 18000  # ~1 MB, compressible
    for i in range((total_mb - big) // 1):
        (root / "texts" / f"part{i:04d}.csv").write_text(line)
    for i in range(20):
        (root / f"small{i}.json").write_text(json.dumps({"fold": i}))


def _uploaded(entries: list[dict]) -> int:
    return sum(e["bytes_in"] for e in entries if e["method"] == "PUT")


def run(quick: bool = False) -> list[Row]:
    total = 100 if quick else 1024
    local = Local()
    try:
        data = local.work / "proj" / "data"
        make_folder(data, total)
        root = data.parent
        (root / "k").mkdir()
        (root / "k" / "main.py").write_text("print('hello')\n")
        (root / "kr.yaml").write_text(
            "kernels:\n  main: {folder: k, entry: main.py, title: Upload Bench, datasets: [big]}\n"
            "datasets:\n  big: {paths: [data], slug: big-kr}\n"
        )
        kr = [str(BIN / "kr"), "push"]
        mark = local.mark()
        kr_t, kr_m = measure(kr, env=local.kr_env, cwd=str(root))
        kr_first = _uploaded(local.since(mark))
        mark = local.mark()
        kr2_t, _ = measure(kr, env=local.kr_env, cwd=str(root))
        kr_second = _uploaded(local.since(mark))

        (data / "dataset-metadata.json").write_text(
            json.dumps({"title": "Upload bench", "id": f"{local.user}/big-kaggle", "licenses": [{"name": "CC0-1.0"}]})
        )
        kaggle = str(BIN / "kaggle")
        mark = local.mark()
        kg_t, kg_m = measure(
            [kaggle, "datasets", "create", "-p", str(data), "--dir-mode", "zip", "-q"], env=local.kaggle_env
        )
        kg_first = _uploaded(local.since(mark))
        mark = local.mark()
        kg2_t, kg2_m = measure(
            [kaggle, "datasets", "version", "-p", str(data), "-m", "same", "--dir-mode", "zip", "-q"],
            env=local.kaggle_env,
        )
        kg_second = _uploaded(local.since(mark))
    finally:
        local.close()
    mb = f"{total / 1024:.1f} GB" if total >= 1024 else f"{total} MB"
    cmd = "python bench/upload_bench.py"
    return [
        Row(
            f"upload {mb} folder, first push: wall time",
            f"{kr_t:.1f} s (kr push)",
            f"{kg_t:.1f} s (kaggle datasets create)",
            f"{kr_t / kg_t:.2f}x the time",
            "",
            None,
            cmd,
        ),
        Row(
            f"upload {mb} folder, first push: peak memory",
            f"{kr_m:.0f} MiB",
            f"{kg_m:.0f} MiB",
            f"{kr_m / kg_m:.2f}x",
            "",
            None,
            cmd,
        ),
        Row(
            f"upload {mb} folder, first push: bytes sent",
            f"{kr_first / 2**20:.0f} MiB",
            f"{kg_first / 2**20:.0f} MiB",
            "",
            "",
            None,
            cmd,
        ),
        Row(
            f"upload {mb} folder, second push, nothing changed: bytes sent",
            f"{kr_second} B ({kr2_t:.1f} s)",
            f"{kg_second / 2**20:.0f} MiB ({kg2_t:.1f} s, kaggle datasets version)",
            "",
            "0 for kr",
            kr_second == 0,
            cmd,
        ),
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
