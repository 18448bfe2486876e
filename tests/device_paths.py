"""One small model trained the same way on a named device path, for the differential tests of every path.
`python device_paths.py PATH OUT` writes OUT/PATH.json: the validation AUC, the test predictions and raw outputs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from kaggle_runner import runtime as rt
from kaggle_runner.runtime.train import outputs

PATHS = ("cpu-float32", "cpu-bfloat16", "cpu-float16", "ddp-2", "xla")
BATCH = 32


def data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two noisy classes split by a fixed hyperplane: a model learns them decisively within a few epochs."""
    g = torch.Generator().manual_seed(seed)
    w = torch.linspace(-1, 1, 16, dtype=torch.float32)
    x = torch.randn(n, 16, generator=g)
    y = ((x @ w + 0.5 * torch.randn(n, generator=g)) > 0).float()
    return x, y


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.hidden, self.out = torch.nn.Linear(16, 32), torch.nn.Linear(32, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.hidden(x)))


def proc_for(path: str) -> rt.Proc | None:
    """The Proc of a single-process path; None where launch() makes them (DDP, XLA)."""
    if path == "cpu-float32":
        return rt.Proc("cpu")
    if path == "cpu-bfloat16":
        return rt.Proc("cpu", amp=torch.bfloat16)
    if path == "cpu-float16":  # the T4's path: float16 autocast with loss scaling
        return rt.Proc("cpu", amp=torch.float16, scaler=torch.amp.GradScaler("cpu"))
    return None


def main(proc: rt.Proc, path: str, out: str) -> None:
    x, y = data(1200, 1)
    xt, _ = data(200, 2)
    train, valid = rt.Columns(x=x[:1000], labels=y[:1000]), rt.Columns(x=x[1000:], labels=y[1000:])
    net = Net()
    history = rt.fit(
        net,
        train,
        valid,
        epochs=6,
        batch_size=BATCH // proc.world,  # the same global batch on every path
        lr=1e-2,
        warmup=0.0,
        scheduler=None,
        metrics={"auc": rt.metrics.auc},
        checkpoint=None,
        proc=proc,
    )
    predictions = rt.predict(net, rt.Columns(x=xt), proc=proc)
    logits, _ = outputs(net, rt.Columns(x=xt), proc=proc)
    if proc.is_main:
        result = {
            "auc": history.epochs[-1]["val_auc"],
            "predictions": np.asarray(predictions, float).tolist(),
            "logits": np.asarray(logits, float).ravel().tolist(),
        }
        Path(out, f"{path}.json").write_text(json.dumps(result))


def train(path: str, out: Path, python: str = sys.executable, **env: str) -> dict:
    """Train on `path` in a fresh process of `python` and return its result."""
    import os
    import subprocess

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KR_", "KAGGLE_", "PJRT_"))}
    r = subprocess.run(  # in `out`: what fit writes to its working folder (kr_progress.json) stays out of the repo
        [python, __file__, path, str(out)], capture_output=True, text=True, timeout=600, env={**clean, **env}, cwd=out
    )
    assert r.returncode == 0, f"{path}: {r.stderr[-3000:]}"
    return json.loads((out / f"{path}.json").read_text())


def disagreements(reference: dict, other: dict) -> list[str]:
    """How `other` fails to give CPU float32's answer: the validation AUC within 0.01, a Spearman correlation of
    the test predictions of at least 0.99, and as many distinct predictions (float32 resolution, not bfloat16's)."""
    ref, got = np.asarray(reference["predictions"]), np.asarray(other["predictions"])
    problems = []
    if abs(other["auc"] - reference["auc"]) > 0.01:
        problems.append(f"validation AUC {other['auc']:.4f} against {reference['auc']:.4f}")
    spearman = float(np.corrcoef(np.argsort(np.argsort(ref)), np.argsort(np.argsort(got)))[0, 1])
    if spearman < 0.99:
        problems.append(f"Spearman {spearman:.4f} < 0.99")
    distinct, expected = len(set(got.tolist())), len(set(ref.tolist()))
    if distinct < expected:
        problems.append(f"{distinct} distinct predictions of {len(got)}, against {expected}")
    return problems


if __name__ == "__main__":
    path, out = sys.argv[1], sys.argv[2]
    single = proc_for(path)
    if single is not None:
        main(single, path, out)
    elif path == "ddp-2":
        rt.launch(main, path, out, accelerator="cpu", processes=2)
    else:
        rt.launch(main, path, out, accelerator="tpu")
