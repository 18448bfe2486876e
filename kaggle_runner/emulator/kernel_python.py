"""Where the kernels' Python appears inside a confined session: its venv at /opt/venv over its base interpreter at
/opt/python (or its system path), so that no folder of the emulator's machine shows in sys, os.environ or a trace."""

# A venv cannot simply be bound elsewhere: its `python` is a link to the base interpreter by absolute path, pyvenv.cfg
# names the base's folder, and its scripts' `#!` lines name the venv's own. So the venv's folders are bound at VENV, and
# those few small files are written there anew with the names changed (`Placement`); everything else is bound as it is.

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kaggle_runner.emulator import sandbox

VENV = "/opt/venv"
BASE = "/opt/python"
SCRIPT_BYTES = 1 << 20  # a bin/ file larger than this is a program, bound as it is, not a script to rewrite


@dataclass(frozen=True)
class Interpreter:
    """What the kernels' Python says of itself on the host."""

    prefix: str
    base_prefix: str
    executable: str  # resolved: the base interpreter's own file

    @property
    def is_venv(self) -> bool:
        return self.prefix != self.base_prefix


@dataclass
class Placement:
    """The sandbox's instructions for the kernels' Python: read-only binds, links and small files inside the root."""

    executable: str  # argv[0] inside the session
    binds: list[tuple[str, str]] = field(default_factory=list)  # (inside, host)
    links: list[tuple[str, str]] = field(default_factory=list)  # (inside, target)
    files: list[tuple[str, str, int]] = field(default_factory=list)  # (inside, text, mode); may cover a bound file
    library_path: str = ""  # the base's lib/ when it moved: a shared build's RUNPATH names the host's folder


def probe(python: str) -> Interpreter:
    """Ask the interpreter where it lives."""
    code = "import json, os, sys; print(json.dumps([sys.prefix, sys.base_prefix, os.path.realpath(sys.executable)]))"
    out = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    prefix, base, exe = json.loads(out)
    return Interpreter(prefix, base, exe)


def _is_system(path: str) -> bool:
    return any(path == d or path.startswith(d + "/") for d in sandbox.SYSTEM)


def place(python: str) -> Placement:
    """Lay the kernels' Python out at VENV and BASE. A base interpreter in a system folder (/usr) stays where it is,
    since the session sees those folders anyway."""
    it = probe(python)
    moves: dict[str, str] = {}  # host root -> inside root, the longest first when renaming
    if not _is_system(it.base_prefix):
        moves[it.base_prefix] = BASE
    if it.is_venv:
        moves[it.prefix] = VENV

    def rename(text: str) -> str:
        for host in sorted(moves, key=len, reverse=True):
            text = text.replace(host, moves[host])
        return text

    placement = Placement(executable=rename(it.executable))
    if BASE in moves.values():
        placement.binds.append((BASE, it.base_prefix))
        placement.library_path = BASE + "/lib"
        # sysconfig's build settings name the base's folder (get_config_var("prefix"), LIBDIR, the compiler flags)
        for data in sorted(Path(it.base_prefix).glob("lib/python3*/_sysconfigdata_*.py")):
            _place_file(data, rename(str(data)), placement, rename)
    if it.is_venv:
        placement.executable = VENV + "/bin/python"
        _lay_out_venv(Path(it.prefix), placement, rename)
    return placement


def _lay_out_venv(venv: Path, placement: Placement, rename: Callable[[str], str]) -> None:
    for entry in sorted(venv.iterdir()):
        inside = f"{VENV}/{entry.name}"
        if entry.name == "bin" and entry.is_dir() and not entry.is_symlink():
            for item in sorted(entry.iterdir()):
                _place_file(item, f"{inside}/{item.name}", placement, rename)
        else:
            _place_file(entry, inside, placement, rename)


def _place_file(path: Path, inside: str, placement: Placement, rename: Callable[[str], str]) -> None:
    """A link keeps pointing where it did, renamed; a small text file (a script, pyvenv.cfg, activate) is written
    again with its names changed; anything else is bound as it is."""
    if path.name == "__pycache__":
        return
    if path.is_symlink():
        target = os.readlink(path)
        placement.links.append((inside, rename(os.path.realpath(path)) if os.path.isabs(target) else target))
        return
    if path.is_file() and path.stat().st_size <= SCRIPT_BYTES:
        data = path.read_bytes()
        if b"\0" not in data:
            try:
                placement.files.append((inside, rename(data.decode("utf-8")), path.stat().st_mode & 0o777))
                return
            except UnicodeDecodeError:
                pass
    placement.binds.append((inside, str(path)))
