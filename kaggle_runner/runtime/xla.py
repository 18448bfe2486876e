"""The only module that imports torch_xla: spawn on every TPU core, the XLA device, loader, step, gather, save.
torch_xla cannot be installed beside the CPU torch of CI, so this path is kept this small and reviewed, not run."""

from __future__ import annotations

import os
from typing import Any, Callable

import torch
import torch_xla
import torch_xla.core.xla_model as xm
import torch_xla.distributed.parallel_loader as pl
import torch_xla.distributed.xla_multiprocessing as xmp
import torch_xla.runtime as xr

from kaggle_runner.runtime.devices import Proc


def spawn(fn: Callable[..., Any], args: tuple, start_method: str) -> None:
    # PJRT takes the process count from the devices (8 cores on a v3-8) and refuses an explicit nprocs > 1
    xmp.spawn(fn, args=args, nprocs=None, start_method=start_method)


def proc() -> Proc:
    device = torch_xla.device() if hasattr(torch_xla, "device") else xm.xla_device()
    # bfloat16 is what the TPU's matrix units compute in; autocast keeps the loss and norms in float32
    return Proc("tpu", xr.global_ordinal(), xr.world_size(), device, torch.bfloat16)


def broadcast(model: torch.nn.Module) -> None:
    xm.broadcast_master_param(model)


def loader(dl: Any, device: torch.device) -> Any:
    # moves each batch to the core in the background and marks the step, so the graph is cut per batch
    return pl.MpDeviceLoader(dl, device)


def step(optimizer: torch.optim.Optimizer, params: list[torch.Tensor], max_norm: float | None) -> None:
    if max_norm:
        xm.reduce_gradients(optimizer)  # clip the all-reduced gradients, as one core would see them
        torch.nn.utils.clip_grad_norm_(params, max_norm)
        optimizer.step()
    else:
        xm.optimizer_step(optimizer)  # all-reduce of the gradients across cores, then the step


def gather(t: torch.Tensor) -> torch.Tensor:
    return xm.all_gather(t, dim=0)


def barrier(tag: str) -> None:
    xm.rendezvous(tag)


def save(obj: Any, path: str | os.PathLike[str]) -> None:
    xm.save(obj, path)  # written by the master ordinal only, tensors moved to the CPU first
