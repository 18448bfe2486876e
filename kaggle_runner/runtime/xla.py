"""The only module that imports torch_xla: spawn on every TPU core and XlaProc, a Proc whose steps are XLA's.
torch_xla cannot be installed beside the CPU torch of CI, so this path is kept this small and reviewed, not run."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch
import torch_xla
import torch_xla.core.xla_model as xm
import torch_xla.distributed.parallel_loader as pl
import torch_xla.distributed.xla_multiprocessing as xmp
import torch_xla.runtime as xr

from kaggle_runner.runtime.proc import Proc


def spawn(fn: Callable[..., Any], args: tuple, start_method: str) -> None:
    # PJRT takes the process count from the devices (8 cores on a v3-8) and refuses an explicit nprocs > 1
    xmp.spawn(fn, args=args, nprocs=None, start_method=start_method)


def proc() -> XlaProc:
    device = torch_xla.device() if hasattr(torch_xla, "device") else xm.xla_device()
    # bfloat16 is what the TPU's matrix units compute in; autocast keeps the loss and norms in float32
    return XlaProc("tpu", xr.global_ordinal(), xr.world_size(), device, torch.bfloat16)


class XlaProc(Proc):
    """A process on one TPU core: no DDP (cores start from the main core's weights and all-reduce gradients in
    the step), batches moved by XLA's loader, collectives and saving through xla_model."""

    @property
    def ddp(self) -> bool:
        return False

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        model = model.to(self.device)
        if self.world > 1:
            xm.broadcast_master_param(model)
        return model

    def loader(self, loader: Any) -> Any:
        # moves each batch to the core in the background and marks the step, so the graph is cut per batch
        return pl.MpDeviceLoader(loader, self.device)

    def step(self, optimizer: torch.optim.Optimizer, max_norm: float | None = None) -> None:
        if max_norm:
            xm.reduce_gradients(optimizer)  # clip the all-reduced gradients, as one core would see them
            params = [p for g in optimizer.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, max_norm)
            optimizer.step()
        else:
            xm.optimizer_step(optimizer)  # all-reduce of the gradients across cores, then the step

    def gather(self, t: torch.Tensor) -> torch.Tensor:
        t = t.detach()
        return t.cpu() if self.world == 1 else xm.all_gather(t, dim=0).cpu()

    def barrier(self) -> None:
        if self.world > 1:
            xm.rendezvous("kr-barrier")

    def save(self, obj: Any, path: str | os.PathLike[str]) -> None:
        xm.save(obj, path)  # written by the master ordinal only, tensors moved to the CPU first
        self.barrier()
