"""The only module that imports torch_xla: spawn on every TPU core and XlaProc, a Proc whose steps are XLA's.
Run by `make test-xla` on XLA's CPU device (PJRT_DEVICE=CPU, one device); several devices need a real TPU."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import torch
import torch_xla
import torch_xla.core.xla_model as xm
import torch_xla.debug.metrics as met
import torch_xla.distributed.parallel_loader as pl
import torch_xla.distributed.xla_multiprocessing as xmp
import torch_xla.runtime as xr

from kaggle_runner.runtime.proc import Proc


def spawn(fn: Callable[..., Any], args: tuple, start_method: str) -> None:
    """fn(index, *args) in one process per XLA device. PJRT takes the count from the devices (8 cores on a
    v3-8, 8 chips on a v5e-8) and refuses an explicit nprocs > 1."""
    xmp.spawn(fn, args=args, nprocs=None, start_method=start_method)


def proc() -> XlaProc:
    """This process's XLA device, its ordinal and the world, and a line in the log that says so."""
    device = torch_xla.device()
    rank, world = xr.global_ordinal(), xr.world_size()
    if rank == 0:
        where = os.environ.get("PJRT_DEVICE", "TPU")
        print(f"kr runtime: on XLA ({where}, torch_xla {torch_xla.__version__}), {world} device(s)", file=sys.stderr)
    # bfloat16 is what the TPU's matrix units compute in; autocast keeps the loss and norms in float32
    return XlaProc("tpu", rank, world, device, torch.bfloat16)


class XlaProc(Proc):
    """A process on one TPU core: no DDP (cores start from the main core's weights and all-reduce gradients in
    the step), batches moved by XLA's loader, collectives and saving through xla_model."""

    @property
    def ddp(self) -> bool:
        """False: XLA averages gradients in its own step, not through DDP."""
        return False

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model on the XLA device, its parameters the master's on every core."""
        model = model.to(self.device)
        if self.world > 1:
            xm.broadcast_master_param(model)
        return model

    def loader(self, loader: Any) -> Any:
        # moves each batch to the core in the background and cuts the graph after each batch
        """An MpDeviceLoader: each batch moved to the core in the background, the graph cut after each batch."""
        return pl.MpDeviceLoader(loader, self.device)

    def step(self, optimizer: torch.optim.Optimizer, max_norm: float | None = None) -> None:
        """One step: xm.optimizer_step all-reduces the gradients across cores; with `max_norm` they are reduced,
        clipped, then stepped."""
        if max_norm:
            xm.reduce_gradients(optimizer)  # clip the all-reduced gradients, as one core would see them
            params = [p for g in optimizer.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, max_norm)
            optimizer.step()
        else:
            xm.optimizer_step(optimizer)  # all-reduce of the gradients across cores, then the step

    def gather(self, t: torch.Tensor) -> torch.Tensor:
        """The tensor from every core, concatenated on the CPU."""
        t = t.detach()
        return t.cpu() if self.world == 1 else xm.all_gather(t, dim=0).cpu()

    def barrier(self) -> None:
        """A rendezvous of every core."""
        if self.world > 1:
            xm.rendezvous("kr-barrier")

    def sync(self) -> None:
        """Cut and run the pending graph (torch_xla.sync)."""
        torch_xla.sync()

    def save(self, obj: Any, path: str | os.PathLike[str]) -> None:
        """xm.save: written by the master ordinal, tensors moved to the CPU first; every core waits for it."""
        xm.save(obj, path)  # written by the master ordinal only, tensors moved to the CPU first
        self.barrier()

    def compile_stats(self) -> dict[str, float]:
        """Graphs compiled, graphs executed and seconds spent compiling in this process so far (XLA's counters)."""
        compiled = met.metric_data("CompileTime") or (0, 0.0, ())
        executed = met.metric_data("ExecuteTime") or (0, 0.0, ())
        return {"compilations": compiled[0], "executions": executed[0], "compile_seconds": compiled[1] / 1e9}
