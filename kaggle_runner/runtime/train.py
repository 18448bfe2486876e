"""fit() and predict(): one training loop for TPU cores, GPUs and the CPU, for transformers models or any module.
Evaluation and inference gather every process's outputs into one array in the dataset's order."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from kaggle_runner.runtime import losses, report
from kaggle_runner.runtime.devices import current
from kaggle_runner.runtime.proc import Proc

Metric = Callable[[np.ndarray, np.ndarray], float]


@dataclass
class History:
    """What fit() returns: per-epoch losses and validation metrics, the best epoch, and whether it stopped early."""

    epochs: list[dict[str, float]] = field(default_factory=list)  # per epoch: train_loss, lr, val_* values
    best_epoch: int | None = None
    best: float | None = None
    stopped_early: bool = False
    checkpoint: Path | None = None


class _Indexed(Dataset):
    """Items with their position, so outputs from every process can be put back in the dataset's order."""

    def __init__(self, data: Dataset) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[int, Any]:
        return i, self.data[i]


def _split(batch: Any) -> tuple[Any, Any]:
    """(inputs, labels) from a dict batch (`labels` key) or an (x, y) pair; labels may be None."""
    if isinstance(batch, dict):
        batch = dict(batch)
        return batch, batch.pop("labels", None)
    if isinstance(batch, (list, tuple)) and len(batch) == 2:
        return batch[0], batch[1]
    return batch, None


def _forward(model: torch.nn.Module, inputs: Any) -> torch.Tensor:
    out = (
        model(**inputs)
        if isinstance(inputs, dict)
        else model(*inputs)
        if isinstance(inputs, (list, tuple))
        else model(inputs)
    )
    out = getattr(out, "logits", out)  # transformers return a ModelOutput
    return out.float()


def _head_off(module: torch.nn.Module, args: tuple) -> tuple:
    kind = cast(str, module._kr_float32_head)  # set by float32_head below
    setattr(module, "_kr_autocast_was", torch.is_autocast_enabled(kind))  # noqa: B010 (nn.Module types its attributes)
    torch.set_autocast_enabled(kind, False)
    return tuple(a.float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args)


def _head_on(module: torch.nn.Module, args: tuple, out: Any) -> None:
    torch.set_autocast_enabled(cast(str, module._kr_float32_head), cast(bool, module._kr_autocast_was))


def float32_head(model: torch.nn.Module, proc: Proc) -> None:
    """Under autocast, run the output layer (the model's last nn.Linear) in float32. Logits rounded to bfloat16
    keep 8 bits: a model that is still unsure then ties most of its predictions (2 distinct values of 200 in
    the smoke kernel after one epoch on XLA), which costs rank metrics such as AUC. Hooks, not a wrapper, so
    the state_dict's keys and copies of the model stay as they were."""
    if proc.amp is None:
        return
    heads = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    if not heads or hasattr(heads[-1], "_kr_float32_head"):
        return
    head = heads[-1]
    head._kr_float32_head = proc.device.type  # type: ignore[assignment]
    head.register_forward_pre_hook(_head_off)
    head.register_forward_hook(_head_on)


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def _activate(out: np.ndarray, activation: str | None) -> np.ndarray:
    if activation == "sigmoid":
        return 1 / (1 + np.exp(-out))
    if activation == "softmax":
        e = np.exp(out - out.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    return out


def _loader(
    data: Dataset, proc: Proc, batch_size: int, shuffle: bool, seed: int, collate: Callable | None, workers: int
) -> tuple[DataLoader, DistributedSampler]:
    # a DistributedSampler even for one process: the same code path everywhere. Evaluation pads each
    # process's share to equal length (repeating items), which the gather below removes again.
    sampler: DistributedSampler[int] = DistributedSampler(
        _Indexed(data), num_replicas=proc.world, rank=proc.rank, shuffle=shuffle, seed=seed
    )
    drop = shuffle and proc.kind == "tpu" and len(sampler) >= batch_size  # equal shapes: no XLA recompiles
    return DataLoader(
        _Indexed(data), batch_size=batch_size, sampler=sampler, collate_fn=collate, num_workers=workers, drop_last=drop
    ), sampler


def outputs(
    model: torch.nn.Module,
    data: Dataset,
    proc: Proc | None = None,
    batch_size: int = 64,
    collate: Callable | None = None,
    workers: int = 0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The model's raw outputs and the labels for every item of `data`, from all processes, in data order.
    Every process gets the same arrays."""
    proc = proc or current()
    loader, _ = _loader(data, proc, batch_size, False, 0, collate, workers)
    net = _unwrap(model)
    float32_head(net, proc)
    was_training = net.training
    net.eval()
    idx, outs, labels = [], [], []
    with torch.no_grad():
        for i, batch in proc.loader(loader):
            inputs, y = _split(batch)
            with proc.autocast():
                outs.append(_forward(net, proc.to(inputs)))
            idx.append(proc.to(i))
            if y is not None:
                labels.append(proc.to(y).float())
    net.train(was_training)
    n = len(data)  # type: ignore[arg-type]
    pending = torch.cat(idx), torch.cat(outs), torch.cat(labels) if labels else None
    proc.sync()  # on XLA: one graph for the three, not one each as .cpu() reads them
    pos = proc.gather(pending[0]).numpy()
    out = proc.gather(pending[1]).numpy()
    seen = np.bincount(pos, minlength=n)
    if len(seen) != n or not seen.all():
        raise RuntimeError(f"gathered outputs cover {int((seen > 0).sum())} of {n} items")
    ordered = np.empty((n, *out.shape[1:]), dtype=out.dtype)
    ordered[pos] = out  # padding repeats an item; both copies are that item's output
    ordered_labels = None
    if pending[2] is not None:
        lab = proc.gather(pending[2]).numpy()
        ordered_labels = np.empty((n, *lab.shape[1:]), dtype=lab.dtype)
        ordered_labels[pos] = lab
    return ordered, ordered_labels


def predict(
    model: torch.nn.Module,
    data: Dataset,
    proc: Proc | None = None,
    batch_size: int = 64,
    activation: str | None = "sigmoid",
    collate: Callable | None = None,
    workers: int = 0,
) -> np.ndarray:
    """Predictions for every item of `data` in its order, gathered from all processes (not one file per core).
    Outputs of shape (n, 1) come back as (n,)."""
    out, _ = outputs(model, data, proc, batch_size, collate, workers)
    out = _activate(out, activation)
    return out[:, 0] if out.ndim == 2 and out.shape[1] == 1 else out


def _schedule(kind: str | None, warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        if kind is None:
            return 1.0
        done = (step - warmup) / max(1, total - warmup)
        return max(0.0, 1 - done) if kind == "linear" else 0.5 * (1 + math.cos(math.pi * min(1.0, done)))

    if kind not in (None, "linear", "cosine"):
        raise ValueError(f"scheduler {kind!r} is unknown; use linear, cosine or None")
    return factor


def _optimizer(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    # no weight decay on biases and norm weights (the 1-D parameters), as in BERT's recipe
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    rest = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}], lr=lr
    )


def fit(
    model: torch.nn.Module,
    train: Dataset,
    valid: Dataset | None = None,
    *,
    epochs: int = 1,
    batch_size: int = 32,
    lr: float = 2e-5,
    weight_decay: float = 0.01,
    optimizer: Callable[[Any], torch.optim.Optimizer] | None = None,
    loss: torch.nn.Module | None = None,
    activation: str | None = "sigmoid",
    metrics: dict[str, Metric] | None = None,
    monitor: str | None = None,
    mode: str | None = None,
    patience: int | None = None,
    accumulate: int = 1,
    scheduler: str | None = "linear",
    warmup: float = 0.1,
    max_grad_norm: float | None = 1.0,
    scale_lr: bool = False,
    checkpoint: str | Path | None = "best.pt",
    restore_best: bool = True,
    seed: int = 0,
    collate: Callable | None = None,
    workers: int = 0,
    proc: Proc | None = None,
) -> History:
    """Train `model` in this process (one of launch()'s), evaluating on `valid` after each epoch.

    - `batch_size` is per process; `accumulate` micro-batches make one optimizer step.
    - `lr` is used as given; `scale_lr=True` multiplies it by the number of processes.
    - The scheduler (linear or cosine decay, after `warmup` steps, or that fraction of all steps if < 1) steps
      once per optimizer step.
    - `monitor` (default: the first of `metrics`, else the validation loss) picks the best epoch, saved to
      `checkpoint` in the working directory and loaded back at the end when `restore_best`; with `patience`,
      training stops after that many epochs without improvement.
    - Each epoch prints kr metric lines (report.py) from the main process: train loss and lr, then the
      validation loss and metrics, which the ledger reads back from the log. It then replaces kr_progress.json in
      the working directory (epochs done, step, those metrics, the checkpoint), which outlives a killed session."""
    proc = proc or current()
    metrics = metrics or {}
    monitor = monitor or (next(iter(metrics)) if metrics else "loss")
    mode = mode or ("min" if "loss" in monitor else "max")
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be min or max, got {mode!r}")
    if accumulate < 1:
        raise ValueError(f"accumulate must be >= 1, got {accumulate}")
    loss_fn = loss or losses.for_activation(activation)
    torch.manual_seed(seed)
    float32_head(model, proc)
    compiled = proc.compile_stats()
    net = proc.wrap(model)
    lr = lr * proc.world if scale_lr else lr
    opt = optimizer(_unwrap(net).parameters()) if optimizer else _optimizer(_unwrap(net), lr, weight_decay)
    loader, sampler = _loader(train, proc, batch_size, True, seed, collate, workers)
    per_epoch = math.ceil(len(loader) / accumulate)
    total = per_epoch * epochs
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, _schedule(scheduler, int(warmup * total) if warmup < 1 else int(warmup), total)
    )
    path = Path(checkpoint) if checkpoint else None
    history, step, since_best = History(checkpoint=path), 0, 0

    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        net.train()
        running = torch.zeros((), device=proc.device)  # summed on the device: no host sync per batch
        batches = 0
        for i, (_, batch) in enumerate(proc.loader(loader)):
            inputs, labels = _split(batch)
            if labels is None:
                raise ValueError(
                    "fit: the training items have no target: give them a 'labels' key or make them (x, y) pairs"
                )
            boundary = (i + 1) % accumulate == 0 or i + 1 == len(loader)
            no_sync = cast(Any, net).no_sync() if proc.ddp and not boundary else contextlib.nullcontext()  # DDP's
            with no_sync:
                with proc.autocast():
                    out = _forward(net, proc.to(inputs))
                batch_loss = loss_fn(out, proc.to(labels))
                proc.backward(batch_loss / accumulate)
            if boundary:
                proc.step(opt, max_grad_norm)
                sched.step()
                opt.zero_grad(set_to_none=True)
                step += 1
            running += batch_loss.detach()
            batches += 1
        train_loss = float(proc.gather((running / max(1, batches)).reshape(1)).mean())
        row = {"train_loss": train_loss, "lr": opt.param_groups[0]["lr"]}
        last = {"train": {"loss": train_loss, "lr": row["lr"]}}
        if proc.is_main:
            report.metric("train", epoch, step, **last["train"])
        stop = False
        if valid is not None:
            out_np, y_np = outputs(net, valid, proc, batch_size * 2, collate, workers)
            values: dict[str, float] = {}
            if y_np is not None:
                values["loss"] = float(loss_fn(torch.from_numpy(out_np), torch.from_numpy(y_np)))
                probs = _activate(out_np, activation)
                values.update({name: float(fn(y_np, probs)) for name, fn in metrics.items()})
            row.update({f"val_{k}": v for k, v in values.items()})
            last["validation"] = values
            if proc.is_main:
                report.metric("validation", epoch, step, **cast(dict[str, Any], values))
            score = values.get(monitor)
            if score is not None and math.isfinite(score):
                if history.best is None or (score > history.best if mode == "max" else score < history.best):
                    history.best, history.best_epoch, since_best = score, epoch, 0
                    if path:
                        proc.save(_unwrap(net).state_dict(), path)
                else:
                    since_best += 1
                    stop = patience is not None and since_best >= patience
                    history.stopped_early = stop
        history.epochs.append(row)
        if proc.is_main:  # what survives a session killed at Kaggle's time cap, whose log comes back empty
            saved = str(path) if path and history.best_epoch is not None else None
            report.progress(epoch, epochs, step, last, saved, history.best_epoch)
        if stop:
            break

    if path and history.best_epoch is None:
        proc.save(_unwrap(net).state_dict(), path)  # nothing to choose from: keep the last weights
    elif path and restore_best and history.best_epoch != len(history.epochs) - 1:
        _unwrap(net).load_state_dict(torch.load(path, map_location="cpu"))
    if compiled is not None and proc.is_main:
        # on XLA every new graph costs a compilation (tens of seconds for a transformer on a TPU): the count must
        # not grow with the steps. The ledger reads this line as the run's `xla.*` metrics.
        now = proc.compile_stats() or {}
        report.metric("xla", step=step, **cast(dict[str, Any], {k: v - compiled[k] for k, v in now.items()}))
    return history
