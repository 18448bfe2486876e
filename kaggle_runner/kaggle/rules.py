"""Rules of Kaggle's that `kr`, its kernels' bootstrap and runtime, and its emulator follow: the slug pattern, the
final session states, how a TPU machine shows itself. One definition each, so the parts cannot drift apart."""

from __future__ import annotations

import os
import re

# Kaggle's URL slugs for kernels and datasets: 3-50 lowercase letters, digits and hyphens (docs/wire-protocol.md §2.3)
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$")
SLUG_RULE = "3-50 lowercase letters, digits and hyphens, starting and ending with a letter or digit"

# GetKernelSessionStatus states after which a session changes no more (docs/wire-protocol.md §2.4)
FINAL_STATES = ("COMPLETE", "ERROR", "CANCEL_ACKNOWLEDGED")


# An owner's batch sessions at once per accelerator kind; SaveKernel refuses one more with "Maximum batch GPU session
# count of 2 reached." (for the TPU, queued sessions count too). docs/kaggle-facts.md, "Machines, caps and quota".
SESSION_CAPS = {"cpu": 5, "gpu": 2, "tpu": 1}


def tpu_present(dev: list[str], vfio: list[str], environ: dict[str, str]) -> bool:
    """Whether a machine has TPU chips: `/dev/accel*` (older TPU VMs), numbered `/dev/vfio/*` groups (how a TPU
    v5e-8 VM shows its chips, docs/kaggle-facts.md), or TPU_NAME / TPU_ACCELERATOR_TYPE set. Self-contained: the
    bootstrap carries this function's source into kernels, which run before kaggle_runner is installed."""
    if environ.get("TPU_NAME") or environ.get("TPU_ACCELERATOR_TYPE"):
        return True
    return any(name.startswith("accel") for name in dev) or any(name.isdigit() for name in vfio)


def xla_in_place_of_tpu(environ: dict[str, str]) -> bool:
    """Whether XLA's CPU device stands in for a TPU here: PJRT_DEVICE=CPU where torch_xla is installed. The emulator
    runs `--accel tpu` sessions so when its kernels' Python has Kaggle's TPU stack, and `make test-xla` runs the
    runtime so. Self-contained: the bootstrap carries this function's source into kernels."""
    import importlib.util

    return environ.get("PJRT_DEVICE") == "CPU" and importlib.util.find_spec("torch_xla") is not None


def tpu_here() -> bool:
    """tpu_present() for this machine."""
    dev = os.listdir("/dev") if os.path.isdir("/dev") else []
    vfio = os.listdir("/dev/vfio") if os.path.isdir("/dev/vfio") else []
    return tpu_present(dev, vfio, dict(os.environ))


# Where Kaggle mounts a session's inputs: the 2026 layout's folder per kind, or the flat /kaggle/input/<slug> that
# some accounts still see (docs/kaggle-facts.md, "Inputs and outputs"). The emulator mounts both ways (input_layout).
INPUT_KINDS = ("competitions", "datasets", "notebooks", "models")

# Kaggle Models' frameworks (kagglesdk's ModelFramework, wire names without MODEL_FRAMEWORK_); a model's URL and its
# mount point write one lowercased without underscores: PY_TORCH -> pytorch (docs/kaggle-facts.md, "Models")
MODEL_FRAMEWORKS = (
    "TENSOR_FLOW_1",
    "TENSOR_FLOW_2",
    "TF_LITE",
    "TF_JS",
    "PY_TORCH",
    "JAX",
    "FLAX",
    "PAX",
    "MAX_TEXT",
    "GEMMA_CPP",
    "GGML",
    "GGUF",
    "CORAL",
    "SCIKIT_LEARN",
    "MXNET",
    "ONNX",
    "KERAS",
    "TRANSFORMERS",
    "API",
    "OTHER",
    "TENSOR_RT_LLM",
    "TRITON",
    "VLLM",
)


def framework_path(text: str) -> str | None:
    """A framework as any client writes it (MODEL_FRAMEWORK_PY_TORCH, PY_TORCH, pyTorch, pytorch) in its path form
    (pytorch); None for one Kaggle does not have."""
    key = text.upper().removeprefix("MODEL_FRAMEWORK_").replace("_", "").lower()
    return key if key in {f.replace("_", "").lower() for f in MODEL_FRAMEWORKS} else None


def model_ref(text: str) -> tuple[str, str, str, str, int | None] | None:
    """owner/model/framework/variation[/version] split, the framework in its path form; None if it is not one."""
    parts = text.strip().strip("/").split("/")
    if len(parts) not in (4, 5) or (len(parts) == 5 and not parts[4].isdigit()):
        return None
    owner, model, framework, variation = parts[:4]
    path = framework_path(framework)
    if path is None or not all(SLUG_RE.match(p) for p in (model, variation)) or not owner:
        return None
    return owner, model, path, variation, int(parts[4]) if len(parts) == 5 else None


def find_input(name: str, kind: str = "", root: str = "") -> str:
    """The folder an input is mounted at, under Kaggle's 2026 layout (competitions/<slug>, datasets/<owner>/<slug>,
    notebooks/<owner>/<slug>, models/<owner>/<model>/...) or the flat <slug>. `name` is a slug or owner/slug;
    `kind` one of INPUT_KINDS or "" for any; `root` defaults to $KAGGLE_INPUT_DIR or /kaggle/input.
    Self-contained (carried as source into kernels). Raises FileNotFoundError naming what it looked for."""
    import glob
    import os

    root = root or os.environ.get("KAGGLE_INPUT_DIR") or "/kaggle/input"
    kinds = [kind] if kind else ["competitions", "datasets", "notebooks", "models"]
    parts = name.strip("/").split("/")
    slug = parts[-1]
    flat = [slug]
    if kind == "models":  # owner/model/framework/variation/version; flat: model/framework/variation/version
        slug, flat = parts[min(1, len(parts) - 1)], parts[min(1, len(parts) - 1) :]
    patterns = []
    for k in kinds:
        if k == "competitions":
            patterns.append(os.path.join(root, k, slug))
        elif k == "models" or len(parts) > 1:
            patterns.append(os.path.join(root, k, *parts))
        else:
            patterns.append(os.path.join(root, k, "*", slug))
    patterns.append(os.path.join(root, *flat))
    for pattern in patterns:
        found = sorted(p for p in glob.glob(glob.escape(pattern).replace("[*]", "*")) if os.path.isdir(p))
        if len(found) > 1:
            raise FileNotFoundError(f"input {name!r} is ambiguous: {', '.join(found)}; name it as owner/{slug}")
        if found:
            return found[0]
    held = []
    for entry in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        sub = os.path.join(root, entry)
        if entry in ("competitions", "datasets", "notebooks", "models") and os.path.isdir(sub):
            depth = 1 if entry == "competitions" else 2
            held += [os.path.relpath(p, root) for p in sorted(glob.glob(os.path.join(sub, *["*"] * depth)))]
        else:
            held.append(entry)
    raise FileNotFoundError(
        f"input {name!r} not found: looked for {', '.join(patterns)}; {root} holds "
        + (", ".join(held[:20]) + (f" and {len(held) - 20} more" if len(held) > 20 else "") if held else "nothing")
    )
