"""fit() and predict() on the CPU: one process in-process, two processes (gloo) as a kernel script would run them."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import Kr
from kaggle_runner import runtime as rt
from kaggle_runner.runtime.proc import Proc

# A learnable task: the label is a linear rule of two of eight features. The two-process run writes, besides
# submission.csv, the main process's own forward pass of the test rows, to check the gathered order against.
SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np, torch
    from kaggle_runner import runtime as rt

    def data(n, seed, labels=True):
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(n, 8, generator=g)
        y = (x[:, 0] + 0.5 * x[:, 1] > 0).float()
        return rt.Columns(x=x, labels=y) if labels else rt.Columns(x=x)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
        def forward(self, x):
            return self.body(x)

    def main(proc, n_test):
        torch.manual_seed(proc.rank)  # different starting weights per process: DDP must make them one model
        model = Net()
        history = rt.fit(model, data(512, 1), data(203, 2), epochs=4, batch_size=32, lr=5e-3, scale_lr=True,
                         scheduler=None, warmup=0, metrics={"auc": rt.metrics.auc}, proc=proc)
        test = data(n_test, 3, labels=False)
        predictions = rt.predict(model, test, proc=proc)
        rt.write_submission("submission.csv", [f"t{i:04d}" for i in range(n_test)], predictions, ["id", "y"], proc=proc)
        if proc.is_main:
            with torch.no_grad():
                own = torch.sigmoid(model(test.columns["x"])).reshape(-1).numpy()
            np.save("reference.npy", own)
            json.dump({"epochs": history.epochs, "world": proc.world}, open("history.json", "w"))

    if __name__ == "__main__":
        rt.launch(main, int(sys.argv[2]), processes=int(sys.argv[1]))
""")


def run_script(tmp_path: Path, processes: int, n_test: int = 101) -> tuple[subprocess.CompletedProcess, dict]:
    (tmp_path / "train_script.py").write_text(SCRIPT)
    r = subprocess.run(
        [sys.executable, "train_script.py", str(processes), str(n_test)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert r.returncode == 0, r.stderr
    (tmp_path / "kernel.log").write_text(r.stdout)
    return r, json.loads((tmp_path / "history.json").read_text())


def kr_metrics(log: Path) -> list[dict]:
    return json.loads(Kr(log.parent, log.parent / "home")("metrics", str(log), "--json").stdout)


@pytest.mark.parametrize("processes", [1, 2])
def test_loss_falls_one_submission_and_metric_lines_parse_back(tmp_path: Path, processes: int) -> None:
    _, history = run_script(tmp_path, processes)
    assert history["world"] == processes
    losses = [e["train_loss"] for e in history["epochs"]]
    assert losses[-1] < 0.75 * losses[0], losses
    assert history["epochs"][-1]["val_auc"] > 0.9

    with open(tmp_path / "submission.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["id", "y"]
    assert [r[0] for r in rows[1:]] == [f"t{i:04d}" for i in range(101)]  # every id once, in the test set's order
    assert list(tmp_path.glob("*.csv")) == [tmp_path / "submission.csv"]  # one file, not one per process
    written = np.array([float(r[1]) for r in rows[1:]])
    np.testing.assert_allclose(written, np.load(tmp_path / "reference.npy"), atol=2e-6)

    points = kr_metrics(tmp_path / "kernel.log")
    train = [p for p in points if p["split"] == "train" and p["name"] == "loss"]
    auc = [p for p in points if p["split"] == "validation" and p["name"] == "auc"]
    assert [p["epoch"] for p in train] == [0, 1, 2, 3]  # printed by the main process only
    assert [p["value"] for p in train] == pytest.approx(losses, rel=1e-6)
    assert [p["value"] for p in auc] == pytest.approx([e["val_auc"] for e in history["epochs"]], rel=1e-6)
    lr = [p["value"] for p in points if p["name"] == "lr"]
    assert lr == pytest.approx([5e-3 * processes] * 4)  # scale_lr multiplies by the number of processes
    assert train[-1]["step"] == 4 * -(-512 // (32 * processes))


def test_two_processes_cover_uneven_test_sets(tmp_path: Path) -> None:
    """203 validation rows and 7 test rows do not split evenly over 2 processes: the padding must not show."""
    run_script(tmp_path, 2, n_test=7)
    with open(tmp_path / "submission.csv", newline="") as f:
        assert [r[0] for r in list(csv.reader(f))[1:]] == [f"t{i:04d}" for i in range(7)]


class Scripted:
    """A metric that returns fixed values epoch by epoch, so early stopping has a known answer."""

    def __init__(self, values: list[float]) -> None:
        self.values = iter(values)

    def __call__(self, y: np.ndarray, p: np.ndarray) -> float:
        return next(self.values)


class Linear(torch.nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # dict batches call model(x=...)
        return super().forward(x)


def _small(seed: int = 0) -> tuple[torch.nn.Module, rt.Columns]:
    torch.manual_seed(seed)
    x = torch.randn(64, 4)
    return Linear(4, 1), rt.Columns(x=x, labels=(x[:, 0] > 0).float())


def test_early_stopping_restores_the_best_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    model, data = _small()
    weights = []
    score = Scripted([0.5, 0.9, 0.7, 0.6, 0.95])

    def metric(y: np.ndarray, p: np.ndarray) -> float:
        weights.append(model.weight.detach().clone())
        return score(y, p)

    history = rt.fit(
        model, data, data, epochs=5, batch_size=8, lr=0.1, metrics={"s": metric}, patience=2, proc=Proc("cpu")
    )
    assert history.stopped_early and history.best_epoch == 1 and history.best == 0.9
    assert len(history.epochs) == 4  # epochs 2 and 3 did not improve: stop before the 0.95 of epoch 4
    assert torch.equal(model.weight, weights[1]) and not torch.equal(weights[1], weights[3])
    saved = torch.load(tmp_path / "best.pt")
    assert torch.equal(saved["weight"], weights[1])
    validation = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"validation"' in line]
    assert [v["metrics"]["s"] for v in validation] == [0.5, 0.9, 0.7, 0.6]
    progress = json.loads((tmp_path / "kr_progress.json").read_text())  # what a killed session leaves behind
    assert (progress["epoch"], progress["epochs"], progress["best_epoch"], progress["checkpoint"]) == (
        3,
        5,
        1,
        "best.pt",
    )
    assert progress["metrics"]["validation"]["s"] == 0.6 and progress["step"] == validation[-1]["step"]
    assert not (tmp_path / "kr_progress.json.tmp").exists()


def test_gradient_accumulation_equals_the_larger_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    results = []
    for batch, accumulate in ((16, 1), (8, 2)):
        model, data = _small()
        rt.fit(
            model,
            data,
            epochs=2,
            batch_size=batch,
            accumulate=accumulate,
            scheduler=None,
            warmup=0,
            max_grad_norm=None,
            optimizer=lambda p: torch.optim.SGD(p, lr=0.1),
            checkpoint=None,
            proc=Proc("cpu"),
        )
        results.append(model.weight.detach().clone())
    torch.testing.assert_close(results[0], results[1])


def test_predict_keeps_order_and_applies_the_activation(monkeypatch: pytest.MonkeyPatch) -> None:
    model, data = _small()
    out = rt.predict(model, data, batch_size=5, proc=Proc("cpu"))
    with torch.no_grad():
        expected = torch.sigmoid(model(data.columns["x"])).reshape(-1).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    logits = rt.predict(model, data, activation=None, proc=Proc("cpu"))
    np.testing.assert_allclose(logits, np.log(expected / (1 - expected)), rtol=1e-4, atol=1e-5)


def test_transformers_model_trains_from_dict_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    ids = torch.randint(3, 20, (96, 8))
    labels = (ids == 7).any(dim=1).float()  # toxic when token 7 appears
    data = rt.Columns(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels)
    model = rt.tiny_bert(20, 8, hidden=16, layers=1)
    history = rt.fit(
        model, data, data, epochs=6, batch_size=16, lr=1e-2, metrics={"auc": rt.metrics.auc}, proc=Proc("cpu")
    )
    assert history.epochs[-1]["train_loss"] < history.epochs[0]["train_loss"]
    assert history.best > 0.8


def test_training_data_without_labels_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    model, _ = _small()
    with pytest.raises(ValueError, match="the training items have no target"):
        rt.fit(model, rt.Columns(x=torch.randn(8, 4)), proc=Proc("cpu"))
