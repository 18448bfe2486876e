"""Accelerator names: kr's short names (tpu, gpu, t4x2, p100, cpu) and Kaggle's machineShape strings.
One table serves `kr push` (what to ask for) and the emulator (what a shape means and what it became)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    """One of Kaggle's machine shapes: its name, kind (cpu, gpu, tpu), UI label, devices, and any retirement."""

    name: str  # Kaggle's machineShape
    kind: str  # cpu | gpu | tpu
    label: str  # what Kaggle's UI calls it
    devices: int = 1
    retired_to: str | None = None  # the server substitutes this shape


SHAPES: dict[str, Shape] = {
    s.name.lower(): s
    for s in (
        Shape("NvidiaTeslaT4", "gpu", "GPU T4 x2", 2),
        Shape("NvidiaTeslaT4Highmem", "gpu", "GPU T4 (high memory)", 1),
        Shape("NvidiaTeslaP100", "gpu", "GPU P100", 1, retired_to="NvidiaTeslaT4"),
        Shape("NvidiaTeslaA100", "gpu", "GPU A100", 1),
        Shape("NvidiaL4", "gpu", "GPU L4 x4", 4),
        Shape("NvidiaL4X1", "gpu", "GPU L4", 1),
        Shape("NvidiaH100", "gpu", "GPU H100", 1),
        Shape("NvidiaRtxPro6000", "gpu", "GPU RTX Pro 6000", 1),
        Shape("TpuV5E8", "tpu", "TPU v5e-8", 8),
        Shape("TpuV6E8", "tpu", "TPU v6e-8", 8),
        Shape("TpuV38", "tpu", "TPU v3-8", 8, retired_to="TpuV5E8"),
        Shape("Tpu1VmV38", "tpu", "TPU v3-8 (VM)", 8, retired_to="TpuV5E8"),
        Shape("TpuV232", "cpu", "TPU v2-32", 32, retired_to="Cpu"),
        Shape("TpuV2256", "cpu", "TPU v2-256", 256, retired_to="Cpu"),
        Shape("Cpu", "cpu", "CPU", 1),
    )
}

# kr's names -> the machineShape asked for; TPU v3-8 is retired upstream and now runs on v5e-8.
ALIASES: dict[str, str] = {
    "cpu": "",
    "gpu": "NvidiaTeslaT4",
    "t4x2": "NvidiaTeslaT4",
    "p100": "NvidiaTeslaP100",
    "tpu": "TpuV5E8",
    "v3-8": "TpuV38",
    "v5e-8": "TpuV5E8",
}


def lookup(machine_shape: str) -> Shape | None:
    """The shape of that machineShape name (any case); None for a name Kaggle does not list."""
    return SHAPES.get(machine_shape.lower())


def resolve(machine_shape: str, enable_gpu: bool = False, enable_tpu: bool = False) -> Shape:
    """The shape a session actually runs on, following retirements and the legacy flags.
    Raises KeyError for an unknown name."""
    if not machine_shape:
        machine_shape = "TpuV5E8" if enable_tpu else "NvidiaTeslaT4" if enable_gpu else "Cpu"
    shape = SHAPES[machine_shape.lower()]
    while shape.retired_to:
        shape = SHAPES[shape.retired_to.lower()]
    return shape
