"""`kr emulator env`: the Python that the emulator's kernels run in, built into the state folder from the package
registry with the packages public Kaggle kernels most often rely on, so they fail here only where they would there."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from kaggle_runner.errors import UserError

# The packages of Kaggle's Python image (github.com/Kaggle/docker-python, kaggle_requirements.txt) that public
# kernels import most; the image has hundreds more. torch is pinned to the CPU wheel the registry offers.
KAGGLE_PACKAGES = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "matplotlib",
    "seaborn",
    "xgboost",
    "lightgbm",
    "catboost",
    "pyarrow",
    "pillow",
    "tqdm",
    "torch==2.13.0",
    "transformers",
    "tokenizers",
    "datasets",
    "kagglehub",
)
PRESET = "kaggle"
# import name -> package name, where the two differ (for the hint on a missing module)
PACKAGE_OF = {"sklearn": "scikit-learn", "PIL": "pillow", "cv2": "opencv-python", "yaml": "pyyaml"}
MISSING_RE = re.compile(r"ModuleNotFoundError: No module named '([^'.]+)")


def python_of(state: Path) -> Path:
    """Where the environment's interpreter is once built (serve uses it when it exists)."""
    return state / "python" / "bin" / "python"


def packages(spec: str) -> list[str]:
    """`kaggle` (the list above), package names, or both, comma-separated."""
    out: list[str] = []
    for name in (p.strip() for p in spec.split(",")):
        if not name:
            continue
        out += list(KAGGLE_PACKAGES) if name == PRESET else [name]
    if not out:
        raise UserError(f"--packages: name at least one package, or `{PRESET}` for Kaggle's usual ones")
    return out


def build(state: Path, spec: str = PRESET, say: Callable[[str], None] = print) -> Path:
    """Create (or add to) the state's kernel Python and install the packages; pip's own progress goes to stderr."""
    wanted = packages(spec)
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
    package = PACKAGE_OF.get(module, module)
    return (
        f"the kernels' Python has no module '{module}' (Kaggle's image may have it): add it with "
        f"`kr emulator env --packages {package}` and restart `kr emulator serve`"
    )
