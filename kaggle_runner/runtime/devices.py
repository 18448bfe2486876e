"""Which accelerator a kernel has, and one process per device on it: TPU cores (torch_xla), GPUs (DDP), the CPU.
`launch(fn)` runs fn(proc) in each process; a run that asked for a GPU or TPU the machine lacks fails at once."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.distributed as dist

from kaggle_runner.kaggle import rules
from kaggle_runner.runtime.proc import Proc

KINDS = ("auto", "cpu", "gpu", "tpu")


class AcceleratorMissing(RuntimeError):
    """The run asked for an accelerator this machine does not have."""


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
    if rules.xla_in_place_of_tpu(dict(os.environ)):
        return True, "XLA's CPU device in place of a TPU (PJRT_DEVICE=CPU)"
    if os.environ.get("PJRT_DEVICE", "TPU") != "TPU":
        return False, f"no TPU (PJRT_DEVICE={os.environ['PJRT_DEVICE']})"
    if rules.tpu_here():
        return True, "a TPU"
    return False, "no TPU device (torch_xla is installed, but there is no /dev/accel*, /dev/vfio/N or TPU_NAME)"


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
    dist.init_process_group(
        "nccl" if kind == "gpu" else "gloo", init_method=f"file://{store}", rank=rank, world_size=world
    )
    try:
        with _as_current(proc):
            fn(proc, *args)
        dist.barrier()  # all ranks done before any tears down: gloo aborts a peer still talking to a closed one
    finally:
        dist.destroy_process_group()
    _end_like_a_fork()


def _end_like_a_fork() -> None:
    # A spawned worker ends through the interpreter's full shutdown, where C++ statics are destroyed while
    # gloo's threads may still run: rarely, std::terminate and a SIGABRT after the work was done (seen once in
    # CI, ddp-2). A forked worker ends with os._exit once multiprocessing's own handlers ran; so does this one,
    # after the same handlers and atexit's (logging's flush among them), with its output written out.
    import atexit
    import multiprocessing.util

    multiprocessing.util._exit_function()  # type: ignore[attr-defined]  # private, and what a forked worker runs
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


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
        torch.multiprocessing.start_processes(
            _distributed,
            args=(n, kind, os.path.join(tmp, "store"), fn, args),
            nprocs=n,
            join=True,
            start_method=_start_method(),
        )
    return None
