"""One training process on the CPU or a GPU: its device, its place among the others, and the few steps that
differ by kind (wrap, backward, step, gather, barrier, save). The TPU's version is XlaProc in xla.py."""

from __future__ import annotations

import contextlib
import os
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist


@dataclass
class Proc:
    """One training process: its device and its place among the others, with the few steps that differ by kind."""

    kind: str  # cpu | gpu (tpu: XlaProc in xla.py)
    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    amp: torch.dtype | None = None  # autocast dtype: float16/bfloat16 on a GPU, bfloat16 on a TPU
    scaler: Any = None  # GradScaler, for float16 only

    @property
    def is_main(self) -> bool:
        """Whether this is the process that prints, writes files and reports metrics."""
        return self.rank == 0

    @property
    def ddp(self) -> bool:
        """Whether the model is wrapped in DistributedDataParallel (several processes)."""
        return self.world > 1

    def autocast(self) -> AbstractContextManager[Any]:
        """The mixed-precision context of this device (a no-op at float32)."""
        return torch.autocast(self.device.type, dtype=self.amp) if self.amp else contextlib.nullcontext()

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model on this device; under DDP wrapped so gradients are averaged across processes."""
        model = model.to(self.device)
        if self.ddp and not isinstance(model, torch.nn.parallel.DistributedDataParallel):
            ids = [self.device.index] if self.device.type == "cuda" else None
            model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
        return model

    def loader(self, loader: Any) -> Any:
        """The loader as this device iterates it (unchanged here; XLA's feeds the device)."""
        return loader

    def to(self, obj: Any) -> Any:
        """Tensors (also inside dicts, lists, tuples) moved to this device; the XLA loader has done it already."""
        if isinstance(obj, torch.Tensor):
            return obj.to(self.device, non_blocking=True)
        if isinstance(obj, dict):
            return {k: self.to(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return type(obj)(self.to(v) for v in obj)
        return obj

    def backward(self, loss: torch.Tensor) -> None:
        """Backpropagate the loss, scaled where float16 needs a gradient scaler."""
        (self.scaler.scale(loss) if self.scaler else loss).backward()

    def step(self, optimizer: torch.optim.Optimizer, max_norm: float | None = None) -> None:
        """One optimizer step, with the gradients clipped to `max_norm` when given (unscaled first)."""
        params = [p for g in optimizer.param_groups for p in g["params"]]
        if self.scaler:
            if max_norm:
                self.scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, max_norm)
            self.scaler.step(optimizer)
            self.scaler.update()
            return
        if max_norm:
            torch.nn.utils.clip_grad_norm_(params, max_norm)
        optimizer.step()

    def gather(self, t: torch.Tensor) -> torch.Tensor:
        """Every process's tensor concatenated on dim 0, in rank order, on the CPU. Lengths must be equal."""
        t = t.detach()
        if self.world == 1:
            return t.cpu()
        t = t.to(self.device).contiguous()
        parts = [torch.empty_like(t) for _ in range(self.world)]
        dist.all_gather(parts, t)
        return torch.cat(parts).cpu()

    def barrier(self) -> None:
        """Wait until every process reaches this point."""
        if self.world > 1:
            dist.barrier()

    def sync(self) -> None:
        """Compute what is pending on the device (XLA's lazy tensors) in one graph; nothing to do elsewhere."""

    def save(self, obj: Any, path: str | os.PathLike[str]) -> None:
        """Saved once (by the main process), tensors moved to the CPU so the file loads anywhere."""
        if self.is_main:
            torch.save(_to_cpu(obj), path)
        self.barrier()

    def compile_stats(self) -> dict[str, float] | None:
        """Graph compilations so far, where the device compiles graphs (XLA); None on the CPU and GPUs."""
        return None


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    return obj
