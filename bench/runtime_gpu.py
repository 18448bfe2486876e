"""For a machine with CUDA GPUs (never a requirement of the tests): the smoke kernel on one GPU and under DDP over
every GPU, and fit() against a plain PyTorch loop on one GPU. `python bench/runtime_gpu.py` writes results-gpu.md."""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from common import Row, smoke_kernel  # noqa: E402
from xla_bench import loop_row, loops  # noqa: E402


def smoke_row(gpus: int, epochs: int = 3) -> Row:
    """The smoke kernel on `gpus` GPUs (launch() runs one DDP process per GPU): its throughput and answer."""
    start = time.perf_counter()
    out = smoke_kernel(sys.executable, {"epochs": epochs}, KR_ACCELERATOR="gpu", SMOKE_PROCESSES=str(gpus))
    wall = time.perf_counter() - start
    lines = [json.loads(x) for x in out.splitlines() if x.startswith('{"kr_metric"')]
    auc = [m["metrics"]["auc"] for m in lines if m["split"] == "validation"][-1]
    speed = next(x for x in out.splitlines() if x.startswith("trained on"))
    return Row(
        f"smoke kernel, {epochs} epochs, {gpus} GPU{'s' if gpus > 1 else ''} ({'DDP' if gpus > 1 else 'one process'})",
        speed.split(": ", 1)[1],
        "",
        "",
        "validation AUC > 0.9",
        auc > 0.9,
        f"{wall:.0f} s wall; python bench/runtime_gpu.py",
    )


def main() -> None:
    import torch

    if not torch.cuda.is_available():
        sys.exit("runtime_gpu.py: no CUDA GPU here; run it on a machine with one (see bench/README)")
    gpus = torch.cuda.device_count()
    rows = [smoke_row(1)]
    if gpus > 1:
        rows.append(smoke_row(gpus))
    rows.append(loop_row(loops(sys.executable, "cuda", 3), "one GPU", "a plain PyTorch loop", 0.95, "runtime_gpu.py"))
    name = torch.cuda.get_device_name(0)
    head = (
        f"Measured {time.strftime('%Y-%m-%d')} by `python bench/runtime_gpu.py` on {gpus} x {name}, "
        f"torch {torch.__version__}, Python {platform.python_version()}.\n\n"
        "| figure | kr | peer | ratio | target | met |\n|---|---|---|---|---|---|\n"
    )
    table = head + "".join(
        f"| {r.figure} | {r.kr} | {r.peer} | {r.ratio} | {r.target} | {'yes' if r.met else '**no**'} |\n" for r in rows
    )
    print(table)
    (HERE / "results-gpu.md").write_text(table)


if __name__ == "__main__":
    main()
