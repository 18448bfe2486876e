"""`kr emulator env`: the Python that the emulator's kernels run in, built into the state folder from the package
registry with the packages public Kaggle kernels most often rely on, so they fail here only where they would there."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from kaggle_runner.errors import UserError
from kaggle_runner.kaggle import image

# Kaggle's CPU/GPU image: Kaggle/docker-python's Dockerfile.tmpl (HEAD of 2026-08-12) builds on Colab's base image
# release-colab-external-images_20260514-060047_RC00 and adds kaggle_requirements.txt, which pins none of these.
# Colab publishes that base image's `pip freeze` (googlecolab/backend-info, pip-freeze.gpu.txt as of 2026-05-14),
# so these are the versions a 2026 kernel imports. docker-python dropped its own pins (scikit-learn 1.2.2,
# seaborn 0.12.2, xgboost 2.0.3) in commit 4ae73d1, "Upgrade to Python 3.12", 2025-12-12. Deviations, with reasons:
# - torch: the image has 2.10.0+cu128; the registry's Linux 2.10 wheels bring gigabytes of CUDA libraries, so the
#   CPU wheel this project pins everywhere else stands in (the runtime's tests run it, and torch 2.8 in .venv-xla).
# - catboost: unpinned upstream, so the image has whatever was newest when it was built; kr pins the newest the
#   registry served on 2026-12-06, so that the environment can be built again.
# - Python: the image runs 3.12; the kernels' Python is the one kr runs on (3.11 or newer).
KAGGLE_IMAGE = {
    "numpy": "2.0.2",
    "pandas": "2.2.2",
    "scipy": "1.16.3",
    "scikit-learn": "1.6.1",
    "matplotlib": "3.10.0",
    "seaborn": "0.13.2",
    "xgboost": "3.2.0",
    "lightgbm": "4.6.0",
    "catboost": "1.2.10",
    "pyarrow": "18.1.0",
    "pillow": "11.3.0",
    "tqdm": "4.67.3",
    "torch": "2.13.0",
    "transformers": "5.0.0",
    "tokenizers": "0.22.2",
    "datasets": "4.0.0",
    "kagglehub": "1.0.0",
}
# Kaggle's TPU VM image: docker-python's tpu/config.txt pins torch 2.8.0 and tpu/requirements.in installs
# torch_xla of the same version (Python 3.12) and jax[tpu]; transformers and numpy are unpinned there and come as
# the registry has them. jax and jaxlib at the versions torch_xla 2.8's `pallas` extra pins: without jax, torch_xla
# logs "requires jax/pallas" at each graph it builds (44 lines in the smoke kernel's log). On a TPU torch_xla brings
# libtpu; here PJRT_DEVICE=CPU runs the same code on XLA's CPU device.
TPU_STACK = {"torch": "2.8.0", "torch_xla": "2.8.0", "jax": "0.6.2", "jaxlib": "0.6.2", "transformers": "", "numpy": ""}
STACKS = {"kaggle": KAGGLE_IMAGE, "tpu": TPU_STACK}
PRESET = "kaggle"
# import name -> package name, where the two differ (for the hint on a missing module)
PACKAGE_OF = {"sklearn": "scikit-learn", "PIL": "pillow", "cv2": "opencv-python", "yaml": "pyyaml"}
MISSING_RE = re.compile(r"ModuleNotFoundError: No module named '([^'.]+)")


def python_of(state: Path) -> Path:
    """Where the environment's interpreter is once built (serve uses it when it exists). Absolute, since the
    sandbox starts kernels from another folder; not resolved, since the venv's python is a link to the base one."""
    return state.absolute() / "python" / "bin" / "python"


def requirements(stack: str) -> list[str]:
    """A stack's packages as pip requirements (`name==version`, or the name where the stack leaves it unpinned)."""
    if stack not in STACKS:
        raise UserError(f"--stack {stack!r} is unknown; use one of {', '.join(STACKS)}")
    return [f"{name}=={version}" if version else name for name, version in STACKS[stack].items()]


def packages(spec: str, stack: str = PRESET) -> list[str]:
    """`kaggle` (the stack's packages), package names, or both, comma-separated."""
    out: list[str] = []
    for name in (p.strip() for p in spec.split(",")):
        if not name:
            continue
        out += requirements(stack) if name == PRESET else [name]
    if not out:
        raise UserError(f"--packages: name at least one package, or `{PRESET}` for the stack's own")
    return out


def build(state: Path, spec: str = PRESET, say: Callable[[str], None] = print, stack: str = PRESET) -> Path:
    """Create (or add to) the state's kernels' Python and install the packages of `spec` for `stack` (`kaggle`:
    Kaggle's CPU/GPU image; `tpu`: its TPU stack). pip's own progress goes to stderr."""
    wanted = packages(spec, stack)
    python = python_of(state)
    if not python.exists():
        say(f"creating the kernels' Python in {python.parent.parent}")
        subprocess.run([sys.executable, "-m", "venv", str(python.parent.parent)], check=True)
    say(f"installing {len(wanted)} packages: {', '.join(wanted)}")
    r = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off", *wanted],
        stdout=sys.stderr,
    )
    if r.returncode != 0:
        raise UserError(f"pip could not install {', '.join(wanted)} (its message is above); the rest are kept")
    return python


def missing_module_hint(log_text: str) -> str | None:
    """For a kernel that died on an import: which module, and how to add it to the kernels' Python."""
    m = MISSING_RE.search(log_text)
    if not m:
        return None
    module = m.group(1)
    if not image.provides(module):
        return (
            f"no module '{module}', and Kaggle's image has none either: put it beside the entry in the kernel's "
            "folder, or name it in code.packages or code.requirements (kr.yaml)"
        )
    package = PACKAGE_OF.get(module, module)
    return (
        f"the kernels' Python has no module '{module}' (Kaggle's image may have it): add it with "
        f"`kr emulator env --packages {package}` and restart `kr emulator serve`"
    )


if __name__ == "__main__":  # the Makefile's list of a stack's requirements: python -m ... tpu
    print(" ".join(requirements(sys.argv[1])))
