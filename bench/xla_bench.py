"""Benchmark: the runtime's training loop. XLA graphs compiled by the smoke kernel at 1 and 3 epochs, and fit()'s
throughput against a hand-written loop on XLA's CPU device (.venv-xla) and on the CPU. `python bench/xla_bench.py`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
from common import Row, kernel_env, smoke_kernel  # noqa: E402

XLA_PYTHON = ROOT / ".venv-xla" / "bin" / "python"
# The graphs fit() compiles for the smoke kernel (PT_XLA_DEBUG_LEVEL=2 names the Python frame that cut each one):
#  1. the epoch's loss accumulator (a zero on the device), cut at the first step
#  2. transformers' attention-mask check (`_ignore_bidirectional_mask_sdpa` reads a value mid-forward; one graph
#     per batch shape: the training shape, which the last partial evaluation batch shares)
#  3. the first train step (AdamW creates its state) and 4. every later train step
#  5. the epoch's mean train loss, gathered
#  6. the mask check at the evaluation batch shape
#  7. the evaluation step, full batch, and 8. the last partial evaluation batch
#  9. the evaluation's outputs, positions and labels concatenated (one sync for the three)
# None depends on the step or the epoch: 3 epochs compile what 1 epoch does.
GRAPHS = 9


def compilations(epochs: int) -> dict[str, float]:
    """The smoke kernel on XLA's CPU device: its `xla` metric line (graphs compiled, executions, compile seconds)."""
    out = smoke_kernel(XLA_PYTHON, {"epochs": epochs}, PJRT_DEVICE="CPU", KR_ACCELERATOR="tpu")
    line = next(x for x in out.splitlines() if x.startswith('{"kr_metric"') and '"split": "xla"' in x)
    return json.loads(line)["metrics"]


def loops(python: Path | str, device: str, rounds: int) -> dict[str, float]:
    env = kernel_env(PJRT_DEVICE="CPU") if device == "xla" else kernel_env()
    r = subprocess.run(
        [str(python), str(HERE / "runtime_loops.py"), device, str(rounds)], env=env, capture_output=True, text=True
    )
    if r.returncode != 0:
        raise RuntimeError(f"runtime_loops.py {device} failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def loop_row(result: dict[str, float], where: str, peer: str, target: float, command: str) -> Row:
    ratio = result["fit"] / result["by_hand"]
    return Row(
        f"training throughput of fit() against {peer}, tiny BERT, {where} (median of {result['rounds']})",
        f"{result['fit']:.0f} samples/s",
        f"{result['by_hand']:.0f} samples/s",
        f"{ratio:.2f}x",
        f"at least {target}x",
        ratio >= target,
        command,
    )


def run(quick: bool = False) -> list[Row]:
    rounds = 1 if quick else 5  # medians of 3 one-second runs moved by 10% between runs
    rows = []
    if not XLA_PYTHON.exists():
        raise RuntimeError(f"{XLA_PYTHON} is missing: `make test-xla` (or `make bench`) builds it")
    one, three = compilations(1), compilations(3)
    command = "python bench/xla_bench.py"
    for epochs, stats in ((1, one), (3, three)):
        rows.append(
            Row(
                f"XLA graphs compiled by fit(), smoke kernel, {epochs} epoch{'s' if epochs > 1 else ''}",
                f"{stats['compilations']:.0f} ({stats['compile_seconds']:.1f} s compiling, "
                f"{stats['executions']:.0f} executions)",
                f"{GRAPHS} named graphs (bench/xla_bench.py)",
                "",
                "as many at 3 epochs as at 1; no more than the named graphs",
                one["compilations"] == three["compilations"] <= GRAPHS,
                command,
            )
        )
    xla = loops(XLA_PYTHON, "xla", rounds)
    rows.append(loop_row(xla, "XLA CPU device", "a hand-written torch_xla loop", 0.9, command))
    rows.append(loop_row(loops(sys.executable, "cpu", rounds), "CPU", "a plain PyTorch loop", 0.95, command))
    return rows


if __name__ == "__main__":
    for row in run("--quick" in sys.argv):
        print(f"| {row.figure} | {row.kr} | {row.peer} | {row.ratio} | {row.target} | {row.met} |")
