"""Third-party wheels for internet-off kernels: code.requirements resolved by pip for Kaggle's Python on manylinux
x86_64, less what Kaggle's image already holds, kept in .kr/wheels/ by the sha256 of the request."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from kaggle_runner import layout
from kaggle_runner.config import Config
from kaggle_runner.errors import UserError
from kaggle_runner.kaggle import image
from kaggle_runner.project import Say

PYTHON = "3.12"  # Kaggle's images (docs/kaggle-facts.md)
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "linux_x86_64")
RESOLVED = "resolved.json"  # written last: a wheelhouse without it was cut off and is resolved again
_NO_WHEEL = re.compile(r"(?:No matching distribution found for|versions? that satisf(?:y|ies) the requirement) (\S+)")


@dataclass(frozen=True)
class Wheelhouse:
    """The resolved wheels of code.requirements: their folder, their file names, and the top-level modules they
    make importable (for the check before a push)."""

    folder: Path
    wheels: list[str]
    modules: list[str]


def pip_target() -> list[str]:
    """pip's options that resolve for Kaggle's platform rather than this machine's: binary wheels only."""
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    return ["--only-binary=:all:", *platforms, "--python-version", PYTHON, "--implementation", "cp"]


def resolve(cfg: Config, say: Say) -> Wheelhouse:
    """The wheels for cfg.requirements and what they need, less the packages Kaggle's image has (a dependency on
    torch does not bring torch). A request already resolved is read from .kr/wheels/ without pip; a package with
    no wheel for the platform is one line naming it."""
    request = {"requirements": cfg.requirements, "python": PYTHON, "platforms": PLATFORMS}
    key = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
    folder = layout.wheelhouse(cfg.root, key)
    if (folder / RESOLVED).is_file():
        kept = json.loads((folder / RESOLVED).read_text())
        return Wheelhouse(folder, kept["wheels"], kept["modules"])
    say(f"resolving code.requirements for Kaggle (Python {PYTHON}, manylinux x86_64): {', '.join(cfg.requirements)}")
    with tempfile.TemporaryDirectory(prefix="kr-wheels-") as tmp:
        report = Path(tmp) / "report.json"
        _pip(
            ["install", "--dry-run", "--ignore-installed", "--report", str(report), "--target", f"{tmp}/t"],
            cfg.requirements,
        )
        chosen = []
        for item in json.loads(report.read_text())["install"]:
            meta = item["metadata"]
            if item.get("requested") or image.normalized(meta["name"]) not in image.DISTRIBUTIONS:
                chosen.append(f"{meta['name']}=={meta['version']}")
        _pip(["download", "--no-deps", "-d", f"{tmp}/w"], chosen)
        wheels = sorted(p.name for p in Path(tmp, "w").glob("*.whl"))
        modules = sorted({m for w in wheels for m in _top_level(Path(tmp, "w", w))})
        (Path(tmp, "w") / RESOLVED).write_text(json.dumps({"wheels": wheels, "modules": modules, **request}))
        shutil.rmtree(folder, ignore_errors=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(f"{tmp}/w", folder)
    say(f"{len(wheels)} wheels for Kaggle: {', '.join(wheels)}")
    return Wheelhouse(folder, wheels, modules)


def _pip(args: list[str], requirements: list[str]) -> None:
    """Run pip for Kaggle's platform (its index, find-links and proxy settings are the user's own pip's)."""
    cmd = [sys.executable, "-m", "pip", *args, *pip_target(), "--disable-pip-version-check", "--quiet"]
    r = subprocess.run([*cmd, *requirements], capture_output=True, text=True)
    if r.returncode == 0:
        return
    text = r.stderr + r.stdout
    missing = _NO_WHEEL.search(text)
    if missing:
        raise UserError(
            f"code.requirements: no wheel of '{missing.group(1)}' for Kaggle's Python {PYTHON} on manylinux x86_64 "
            "(or no such package); Kaggle cannot build one offline; nothing was pushed"
        )
    last = [ln.strip() for ln in text.splitlines() if ln.strip()]
    raise UserError(
        f"code.requirements: pip failed: {last[-1] if last else f'exit {r.returncode}'}; nothing was pushed"
    )


def _top_level(wheel: Path) -> set[str]:
    """The modules a wheel makes importable: its top-level folders and .py/.so files, less its metadata."""
    names = set()
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            first = name.split("/")[0]
            if first.endswith((".dist-info", ".data")):
                continue
            names.add(first.split(".")[0] if "/" not in name else first)
    return names
