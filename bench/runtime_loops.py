"""Worker of the runtime benchmarks: training throughput of fit() against a hand-written loop on the same tiny BERT,
on one device (cpu, xla or cuda). `python bench/runtime_loops.py DEVICE` prints one JSON line of samples/s."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

import torch

from kaggle_runner import runtime as rt
from kaggle_runner.runtime.proc import Proc

N, SEQ, BATCH, EPOCHS, LR = 1024, 64, 32, 2, 1e-3


def data() -> rt.Columns:
    """Token ids with an attention mask and a label, the dict items a transformers kernel feeds both loops."""
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, 500, (N, SEQ), generator=g)
    return rt.Columns(input_ids=ids, attention_mask=torch.ones_like(ids), labels=(ids[:, 0] % 2).float())


def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return rt.tiny_bert(500, SEQ, hidden=64)


def with_fit(proc: Proc, epochs: int) -> None:
    """fit() as a kernel calls it: no validation or checkpoint, so both sides do the same work."""
    rt.fit(model(), data(), epochs=epochs, batch_size=BATCH, lr=LR, scheduler=None, checkpoint=None, proc=proc)


def by_hand(proc: Proc, epochs: int) -> None:
    """The loop a competitor writes without kr: AdamW, autocast where the device has it, clipping at 1.0, and on
    XLA torch_xla's own loader and step (the shape of torch_xla's published training examples)."""
    net = model().to(proc.device)
    opt = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=0.01)
    loader = torch.utils.data.DataLoader(data(), batch_size=BATCH, shuffle=True)
    if proc.device.type == "xla":
        import torch_xla.distributed.parallel_loader as pl

        loader = pl.MpDeviceLoader(loader, proc.device)
    scaler = torch.amp.GradScaler(proc.device.type) if proc.amp == torch.float16 else None
    for _ in range(epochs):
        for batch in loader:
            batch = {k: v.to(proc.device) for k, v in batch.items()}
            labels = batch.pop("labels")
            with torch.autocast(proc.device.type, dtype=proc.amp, enabled=proc.amp is not None):
                out = net(**batch).logits.float()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(out[:, 0], labels)
            (scaler.scale(loss) if scaler else loss).backward()
            if scaler:
                scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            scaler.step(opt) if scaler else opt.step()
            if scaler:
                scaler.update()
            opt.zero_grad(set_to_none=True)


def timed(proc: Proc, train: Callable[[Proc, int], None]) -> float:
    """Samples per second over EPOCHS, after one epoch that compiles (XLA) or warms the caches."""
    train(proc, 1)
    proc.sync()
    if proc.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    train(proc, EPOCHS)
    proc.sync()
    if proc.device.type == "xla":
        import torch_xla.core.xla_model as xm

        xm.wait_device_ops()
    if proc.device.type == "cuda":
        torch.cuda.synchronize()
    return N * EPOCHS / (time.perf_counter() - start)


def main(proc: Proc, rounds: int) -> None:
    import contextlib
    import io
    import statistics

    fit_sps, hand_sps = [], []
    for _ in range(rounds):  # interleaved, so a slow moment of the machine falls on both
        with contextlib.redirect_stdout(io.StringIO()):  # fit's metric lines
            fit_sps.append(timed(proc, with_fit))
        hand_sps.append(timed(proc, by_hand))
    if proc.is_main:
        fit, hand = statistics.median(fit_sps), statistics.median(hand_sps)
        print(json.dumps({"device": proc.kind, "fit": fit, "by_hand": hand, "rounds": rounds}))


if __name__ == "__main__":
    device, rounds = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3
    if device == "cpu":
        main(Proc("cpu"), rounds)
    else:
        rt.launch(main, rounds, accelerator={"xla": "tpu", "cuda": "gpu"}[device], processes=1)
