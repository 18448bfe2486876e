"""Which accelerator a kernel has, and one process per device on it: TPU cores (torch_xla), GPUs (DDP), the CPU.
`launch(fn)` runs fn(proc) in each process; a run that asked for a GPU or TPU the machine lacks fails at once."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator

import torch
import torch.distributed as dist

KINDS = ("auto", "cpu", "gpu", "tpu")


class AcceleratorMissing(RuntimeError):
    """The run asked for an accelerator this machine does not have."""


@dataclass
class Proc:
    """One training process: its device and its place among the others, with the few steps that differ by kind."""

    kind: str  # cpu | gpu | tpu
    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    amp: torch.dtype | None = None  # autocast dtype: float16/bfloat16 on a GPU, bfloat16 on a TPU
    scaler: Any = None  # GradScaler, for float16 only

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def ddp(self) -> bool:
        return self.world > 1 and self.kind != "tpu"

    def autocast(self) -> ContextManager[Any]:
        return torch.autocast(self.device.type, dtype=self.amp) if self.amp else contextlib.nullcontext()

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model on this device; under DDP wrapped so gradients are averaged across processes."""
        model = model.to(self.device)
        if self.kind == "tpu" and self.world > 1:
            from kaggle_runner.runtime import xla

            xla.broadcast(model)  # no DDP on XLA: start every core from the main core's weights
        if self.ddp and not isinstance(model, torch.nn.parallel.DistributedDataParallel):
            ids = [self.device.index] if self.device.type == "cuda" else None
            model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
        return model

    def loader(self, loader: Any) -> Any:
        if self.kind == "tpu":
            from kaggle_runner.runtime import xla

            return xla.loader(loader, self.device)
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
        (self.scaler.scale(loss) if self.scaler else loss).backward()

    def step(self, optimizer: torch.optim.Optimizer, max_norm: float | None = None) -> None:
        params = [p for g in optimizer.param_groups for p in g["params"]]
        if self.kind == "tpu":
            from kaggle_runner.runtime import xla

            xla.step(optimizer, params, max_norm)
            return
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
        if self.kind == "tpu":
            from kaggle_runner.runtime import xla

            return xla.gather(t).cpu()
        t = t.to(self.device).contiguous()
        parts = [torch.empty_like(t) for _ in range(self.world)]
        dist.all_gather(parts, t)
        return torch.cat(parts).cpu()

    def barrier(self) -> None:
        if self.world == 1:
            return
        if self.kind == "tpu":
            from kaggle_runner.runtime import xla

            xla.barrier("kr-barrier")
        else:
            dist.barrier()

    def save(self, obj: Any, path: str | os.PathLike[str]) -> None:
        """Saved once (by the main process), tensors moved to the CPU so the file loads anywhere."""
        if self.kind == "tpu":
            from kaggle_runner.runtime import xla

            xla.save(obj, path)
        elif self.is_main:
            torch.save(_to_cpu(obj), path)
        self.barrier()


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    return obj


_CURRENT: Proc | None = None


def current() -> Proc:
    """The process launch() started here; outside launch(), one process on the best device found."""
    global _CURRENT
    if _CURRENT is None:
        _CURRENT = _single(choose(None))
    return _CURRENT


def _tpu() -> tuple[bool, str]:
    if importlib.util.find_spec("torch_xla") is None:
        return False, "no TPU (torch_xla is not installed)"
    if os.environ.get("PJRT_DEVICE", "TPU") != "TPU":
        return False, f"no TPU (PJRT_DEVICE={os.environ['PJRT_DEVICE']})"
    if "TPU_NAME" in os.environ or any(Path("/dev").glob("accel*")) or any(Path("/dev").glob("vfio/[0-9]*")):
        return True, "a TPU"
    return False, "no TPU device (torch_xla is installed, but there is no /dev/accel* or /dev/vfio)"


def found() -> str:
    """What this machine has, in words, for error messages."""
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if gpus:
        gpu = f"{gpus} CUDA GPU{'s' if gpus > 1 else ''} ({torch.cuda.get_device_name(0)})"
    else:
        build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
        gpu = f"no CUDA GPU (torch {torch.__version__}, {build}"
        gpu += f", CUDA_VISIBLE_DEVICES={visible!r})" if visible is not None else ")"
    return f"{gpu} and {_tpu()[1]}"


def choose(accelerator: str | None) -> str:
    """The kind to run on: what was asked (argument, else KR_ACCELERATOR set by kr's bootstrap, else auto).
    Asking for a GPU or TPU that is not there raises AcceleratorMissing naming what was asked and found,
    except in the emulator when it was told to run such sessions on the CPU."""
    asked = (accelerator or os.environ.get("KR_ACCELERATOR") or "auto").lower()
    if asked not in KINDS:
        raise ValueError(f"accelerator {asked!r} is unknown; use one of {', '.join(KINDS)}")
    has_gpu = torch.cuda.is_available() and torch.cuda.device_count() > 0
    if asked == "auto":
        return "tpu" if _tpu()[0] else "gpu" if has_gpu else "cpu"
    if asked == "cpu" or (asked == "gpu" and has_gpu) or (asked == "tpu" and _tpu()[0]):
        return asked
    if os.environ.get("KAGGLE_EMULATOR_FALLBACK_CPU") == "1":
        print(f"kr runtime: no {asked.upper()} here; the emulator runs this session on the CPU", file=sys.stderr)
        return "cpu"
    raise AcceleratorMissing(f"this run asked for a {asked.upper()} but found {found()}")


def _gpu_amp(device: torch.device) -> tuple[torch.dtype, Any]:
    # bfloat16 needs no loss scaling; older cards (T4, P100) only have float16, which does
    if torch.cuda.is_bf16_supported():
        return torch.bfloat16, None
    return torch.float16, torch.amp.GradScaler("cuda")


def _single(kind: str) -> Proc:
    if kind == "gpu":
        device = torch.device("cuda", 0)
        return Proc("gpu", 0, 1, device, *_gpu_amp(device))
    if kind == "tpu":
        from kaggle_runner.runtime import xla

        return xla.proc()
    return Proc("cpu")


@contextlib.contextmanager
def _as_current(proc: Proc) -> Iterator[Proc]:
    global _CURRENT
    before, _CURRENT = _CURRENT, proc
    try:
        yield proc
    finally:
        _CURRENT = before


def _start_method() -> str:
    # spawn re-imports the script, which a notebook does not have; fork works there (and is what Kaggle's
    # TPU notebooks always used). Scripts get spawn, which is safe after torch has started its threads.
    main = sys.modules.get("__main__")
    return "spawn" if getattr(main, "__file__", None) else "fork"


def _distributed(rank: int, world: int, kind: str, store: str, fn: Callable[..., Any], args: tuple) -> None:
    if kind == "gpu":
        torch.cuda.set_device(rank)
        proc = Proc("gpu", rank, world, torch.device("cuda", rank), *_gpu_amp(torch.device("cuda", rank)))
    else:
        proc = Proc("cpu", rank, world)
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world))
    # a file rendezvous: no port to choose, so parallel runs on one machine cannot collide
    dist.init_process_group("nccl" if kind == "gpu" else "gloo", init_method=f"file://{store}", rank=rank,
                            world_size=world)
    try:
        with _as_current(proc):
            fn(proc, *args)
    finally:
        dist.destroy_process_group()


def _on_xla(index: int, fn: Callable[..., Any], args: tuple) -> None:
    from kaggle_runner.runtime import xla

    with _as_current(xla.proc()) as proc:
        fn(proc, *args)


def launch(fn: Callable[..., Any], *args: Any, accelerator: str | None = None, processes: int | None = None) -> Any:
    """Run fn(proc, *args) once per device: every TPU core (xmp.spawn), every GPU (DDP), or `processes` CPU
    processes (gloo). With one process fn runs here and its result is returned; with several, None.
    In a script, fn must be defined at the top level and the call guarded by `if __name__ == "__main__":`."""
    kind = choose(accelerator)
    if kind == "tpu":
        from kaggle_runner.runtime import xla

        xla.spawn(_on_xla, (fn, args), _start_method())
        return None
    n = processes or (torch.cuda.device_count() if kind == "gpu" else 1)
    if kind == "gpu" and n > torch.cuda.device_count():
        raise AcceleratorMissing(f"this run asked for {n} GPU processes but found {found()}")
    if n == 1:
        with _as_current(_single(kind)) as proc:
            return fn(proc, *args)
    with tempfile.TemporaryDirectory(prefix="kr-rendezvous-") as tmp:
        torch.multiprocessing.start_processes(_distributed, args=(n, kind, os.path.join(tmp, "store"), fn, args),
                                              nprocs=n, join=True, start_method=_start_method())
    return None
