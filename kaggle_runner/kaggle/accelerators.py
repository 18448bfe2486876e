"""Accelerator names: kr's short names (tpu, gpu, l4, h100, ...) and Kaggle's machineShape strings.
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
    admin_only: bool = False  # a pool Kaggle keeps for its admins (kaggle-cli PR #1198): kr does not offer it


SHAPES: dict[str, Shape] = {
    s.name.lower(): s
    for s in (
        Shape("NvidiaTeslaT4", "gpu", "GPU T4 x2", 2),
        Shape("NvidiaTeslaT4Highmem", "gpu", "GPU T4 (high memory)", 1, admin_only=True),
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

# kr's names -> the machineShape asked for (docs/kaggle-facts.md, "Machines"); Kaggle's own names are accepted too.
# p100 and v3-8 are retired upstream: Kaggle runs them on T4 x2 and v5e-8.
ALIASES: dict[str, str] = {
    "cpu": "",
    "gpu": "NvidiaTeslaT4",
    "t4x2": "NvidiaTeslaT4",
    "p100": "NvidiaTeslaP100",
    "a100": "NvidiaTeslaA100",
    "l4": "NvidiaL4X1",
    "l4x4": "NvidiaL4",
    "h100": "NvidiaH100",
    "rtx-pro-6000": "NvidiaRtxPro6000",
    "tpu": "TpuV5E8",
    "v3-8": "TpuV38",
    "v5e-8": "TpuV5E8",
    "v6e-8": "TpuV6E8",
}


def machine_shape(accel: str) -> str:
    """The machineShape to ask for: from kr's name, or Kaggle's own (any case); "" for the CPU. Raises ValueError
    with a sentence for a name Kaggle does not offer to its users."""
    if accel in ALIASES:
        return ALIASES[accel]
    shape = lookup(accel)
    if shape is None:
        raise ValueError(f"'{accel}' is unknown; use one of {', '.join(ALIASES)} (or Kaggle's machineShape name)")
    if shape.admin_only:
        raise ValueError(f"'{accel}' ({shape.label}) is for Kaggle's admins only; use one of {', '.join(ALIASES)}")
    return "" if shape.name == "Cpu" else shape.name


def kind_of(accel: str | None) -> str | None:
    """cpu, gpu or tpu: what a run asked for as `accel` (kr's name or Kaggle's) runs on; None for an unknown name."""
    if accel is None:
        return None
    try:
        return resolve(machine_shape(accel)).kind
    except ValueError:
        return None


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
