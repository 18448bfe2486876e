"""The runtime's XLA path run for real on XLA's CPU device (PJRT_DEVICE=CPU) with Kaggle's TPU stack: launch, fit
with validation and a checkpoint, predict, write_submission, gather, barrier, params, and the compile line."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from kaggle_runner.emulator.seed import write_competition
from kaggle_runner.loop import bootstrap

ROOT = Path(__file__).resolve().parents[2]
KERNEL = textwrap.dedent("""
    import torch
    from kaggle_runner import runtime as rt

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.hidden, self.out = torch.nn.Linear(8, 16), torch.nn.Linear(16, 1)
        def forward(self, x):
            return self.out(torch.relu(self.hidden(x)))

    def main(proc):
        p = rt.params(epochs=1)
        g = torch.Generator().manual_seed(0)
        x = torch.randn(300, 8, generator=g)
        y = (x[:, 0] - x[:, 1] > 0).float()
        net = Net()
        history = rt.fit(net, rt.Columns(x=x[:200], labels=y[:200]), rt.Columns(x=x[200:], labels=y[200:]),
                         epochs=p["epochs"], batch_size=16, lr=1e-2, metrics={"auc": rt.metrics.auc}, proc=proc)
        preds = rt.predict(net, rt.Columns(x=x[200:]), proc=proc)
        ranks = proc.gather(torch.tensor([proc.rank], device=proc.device))
        proc.barrier()
        rt.write_submission("submission.csv", list(range(100)), preds, ["id", "target"], proc=proc)
        print("kernel:", proc.kind, proc.device.type, proc.world, ranks.tolist(), history.best_epoch, p["note"])

    if __name__ == "__main__":
        rt.launch(main)
""")


def run(tmp_path: Path, script: str, params: dict | None = None, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / "kernel.py").write_text(script)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KR_", "KAGGLE_", "PJRT_"))}
    clean.update(PJRT_DEVICE="CPU", KR_ACCELERATOR="tpu", KR_PARAMS=json.dumps(params or {}), **env)
    return subprocess.run(
        [sys.executable, "kernel.py"], cwd=tmp_path, capture_output=True, text=True, env=clean, timeout=300
    )


def metric_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith('{"kr_metric"')]


def test_a_kernel_trains_predicts_and_saves_on_xla(tmp_path: Path) -> None:
    r = run(tmp_path, KERNEL, {"epochs": 3, "note": "from-params"})
    assert r.returncode == 0, r.stderr[-3000:]
    assert "kr runtime: on XLA (CPU, torch_xla 2.8" in r.stderr
    assert "kernel: tpu xla 1 [0]" in r.stdout and r.stdout.rstrip().endswith("from-params")
    lines = metric_lines(r.stdout)
    assert [m["split"] for m in lines] == ["train", "validation"] * 3 + ["xla"]
    assert lines[-2]["metrics"]["auc"] > 0.8  # it learned, on XLA (chance is 0.5)
    assert set(lines[-1]["metrics"]) == {"compilations", "executions", "compile_seconds"}
    with open(tmp_path / "submission.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(row["id"]) for row in rows] == list(range(100))  # the dataset's order, gathered from the device
    assert len({row["target"] for row in rows}) == 100  # float32 resolution under bfloat16 autocast
    state = torch.load(tmp_path / "best.pt", map_location="cpu")  # xm.save wrote CPU tensors
    assert set(state) == {"hidden.weight", "hidden.bias", "out.weight", "out.bias"}
    assert all(t.device.type == "cpu" for t in state.values())


def test_compilations_do_not_grow_with_epochs(tmp_path: Path) -> None:
    counts = []
    for epochs in (1, 3):
        folder = tmp_path / f"e{epochs}"
        folder.mkdir()
        r = run(folder, KERNEL, {"epochs": epochs, "note": ""})
        assert r.returncode == 0, r.stderr[-3000:]
        counts.append(metric_lines(r.stdout)[-1]["metrics"]["compilations"])
    assert counts[0] == counts[1] and counts[0] <= 9, counts


def test_the_smoke_kernel_runs_on_xla(tmp_path: Path) -> None:
    """The kernel `kr push --accel tpu` sends, with Kaggle's TPU stack: a tiny BERT from transformers."""
    data = write_competition(tmp_path / "state") / "data"
    (tmp_path / "input" / "competitions").mkdir(parents=True)
    (tmp_path / "input" / "competitions" / "tiny-toxic").symlink_to(data)
    shutil.copy(ROOT / "kernels" / "smoke" / "main.py", tmp_path / "main.py")
    r = run(tmp_path, (tmp_path / "main.py").read_text(), KAGGLE_INPUT_DIR=str(tmp_path / "input"))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "trained on tpu x1" in r.stdout and "on XLA (CPU" in r.stderr
    assert "requires jax/pallas" not in r.stderr  # the stack has jax, as Kaggle's TPU image does
    with open(tmp_path / "submission.csv", newline="") as f:
        assert len({row["toxic"] for row in csv.DictReader(f)}) > 150  # 2 of 200 before the float32 head


@pytest.mark.parametrize("pjrt", ["CPU", ""])
def test_the_bootstrap_takes_xla_on_the_cpu_for_a_tpu(tmp_path: Path, pjrt: str) -> None:
    marker = {"kind": "tpu", "label": "TPU v5e-8", "code": None}
    entry = textwrap.dedent("""
        from kaggle_runner import runtime as rt
        def main(proc):
            print("ran on", proc.device)
        if __name__ == "__main__":
            rt.launch(main)
    """)
    (tmp_path / "kernel.py").write_text(bootstrap.script(entry, marker))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KR_", "KAGGLE_", "PJRT_"))}
    if pjrt:
        env["PJRT_DEVICE"] = pjrt
    r = subprocess.run(
        [sys.executable, "kernel.py"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120
    )
    if pjrt:
        assert r.returncode == 0 and "ran on xla:0" in r.stdout, r.stderr[-2000:]
    else:  # no TPU and no stand-in: the run fails at once, as on a machine without one
        assert r.returncode != 0 and "asked for TPU v5e-8 but the machine has no TPU" in r.stderr
