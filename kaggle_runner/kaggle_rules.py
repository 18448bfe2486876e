"""Rules of Kaggle's that `kr`, its kernels' bootstrap and runtime, and its emulator follow: the slug pattern, the
final session states, how a TPU machine shows itself. One definition each, so the parts cannot drift apart."""

from __future__ import annotations

import os
import re

# Kaggle's URL slugs for kernels and datasets: 3-50 lowercase letters, digits and hyphens (kaggle-api.md §2.3)
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$")
SLUG_RULE = "3-50 lowercase letters, digits and hyphens, starting and ending with a letter or digit"

# GetKernelSessionStatus states after which a session changes no more (kaggle-api.md §2.4)
FINAL_STATES = ("COMPLETE", "ERROR", "CANCEL_ACKNOWLEDGED")


def tpu_present(dev: list[str], vfio: list[str], environ: dict[str, str]) -> bool:
    """Whether a machine has TPU chips: `/dev/accel*` (older TPU VMs), numbered `/dev/vfio/*` groups (how a TPU
    v5e-8 VM shows its chips, real-kaggle.md), or TPU_NAME / TPU_ACCELERATOR_TYPE set. Self-contained: the
    bootstrap carries this function's source into kernels, which run before kaggle_runner is installed."""
    if environ.get("TPU_NAME") or environ.get("TPU_ACCELERATOR_TYPE"):
        return True
    return any(name.startswith("accel") for name in dev) or any(name.isdigit() for name in vfio)


def tpu_here() -> bool:
    """tpu_present() for this machine."""
    dev = os.listdir("/dev") if os.path.isdir("/dev") else []
    vfio = os.listdir("/dev/vfio") if os.path.isdir("/dev/vfio") else []
    return tpu_present(dev, vfio, dict(os.environ))
