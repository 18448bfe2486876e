"""The project's on-disk layout: every path under .kr/ (ledger, pulled runs, merges, competition files) lives here.
Also the content hash that names files in the ledger, so every module hashes the same way."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

KR_DIR = ".kr"  # kr's own folder in a project; `kr init` puts it in .gitignore
CHUNK = 2**20


def kr_dir(root: Path) -> Path:
    """The project's .kr/ folder."""
    return root / KR_DIR


def ledger_file(root: Path) -> Path:
    """The ledger's SQLite file."""
    return kr_dir(root) / "ledger.sqlite"


def run_dir(root: Path, kernel: str, version: int, default_kernel: str) -> Path:
    """Where a run's outputs and log are pulled: .kr/runs/vN (default kernel) or .kr/runs/KERNEL/vN."""
    base = kr_dir(root) / "runs"
    return base / f"v{version}" if kernel == default_kernel else base / kernel / f"v{version}"


def merges_dir(root: Path) -> Path:
    """Where recorded merges are kept."""
    return kr_dir(root) / "merges"


def merge_file(root: Path, merge_id: int) -> Path:
    """The kept file of merge mK."""
    return merges_dir(root) / f"m{merge_id}.csv"


def competition_file(root: Path, competition: str, name: str) -> Path:
    """A competition data file kr keeps (the sample submission), downloaded once."""
    return kr_dir(root) / "competitions" / competition / name


def team_file(root: Path, user: str, label: str, name: str) -> Path:
    """A teammate's file fetched from the team's server: .kr/team/USER/LABEL/NAME (LABEL's ':' made '-')."""
    return kr_dir(root) / "team" / user / label.replace(":", "-") / name


def submission_file(root: Path, competition: str, ref: int, name: str) -> Path:
    """A submitted file fetched back from Kaggle (a teammate's): .kr/submissions/COMPETITION/REF/NAME, the name as
    Kaggle gave it reduced to its last part and to letters, digits, '.', '-' and '_'."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name.replace("\\", "/").rsplit("/", 1)[-1]).lstrip(".") or "submission.csv"
    return kr_dir(root) / "submissions" / competition / str(ref) / safe


def wheelhouse(root: Path, key: str) -> Path:
    """The third-party wheels resolved for one request of code.requirements (`key`: its sha256), kept for reuse."""
    return kr_dir(root) / "wheels" / key[:16]


def lock_file(root: Path, name: str) -> Path:
    """The lock one kind of work takes so that two kr processes of this project do not do it at once."""
    return kr_dir(root) / "locks" / f"{name}.lock"


def sha256_file(path: Path) -> str:
    """The file's sha256, read in blocks (the name the ledger gives content)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()
