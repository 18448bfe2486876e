"""Why the tests run XLA on one CPU device: torch_xla's CPU client cannot reduce across several devices, in processes
(xmp.spawn) or in threads (spawn_threads). `PJRT_DEVICE=CPU CPU_NUM_DEVICES=2 .venv-xla/bin/python THIS [threads]`."""

import sys

import torch
import torch_xla
import torch_xla.core.xla_model as xm
import torch_xla.runtime as xr


def show(index: int) -> None:
    device = torch_xla.device()
    mine = torch.tensor([float(xr.global_ordinal() + 1)], device=device)
    print(f"{device}: ordinal {xr.global_ordinal()} of world {xr.world_size()}", flush=True)
    total = xm.all_reduce(xm.REDUCE_SUM, mine)
    torch_xla.sync()
    print(f"{device}: all_reduce sum {total.cpu().item()} (1 + 2 = 3 if it reduced across devices)", flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["threads"]:
        from torch_xla._internal import pjrt

        pjrt.spawn_threads(show)
    else:
        import torch_xla.distributed.xla_multiprocessing as xmp

        xmp.spawn(show, nprocs=None)
