"""Code and data -> files ready to upload, with no network I/O: which files a spec or a kernel's folder holds, their
sha256 manifest, folders staged as zips (hashed as they are zipped), and the code bundle's wheel."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pathspec

from kaggle_runner.config import Config, DatasetSpec
from kaggle_runner.errors import UserError
from kaggle_runner.layout import CHUNK, sha256_file

SRC = "kr-src"  # the code bundle's folder of kernel folders: a name no Python package can have
# never shipped from a kernel's folder: credentials, caches, and the kaggle CLI's own description of the kernel
LEFT_OUT = {"__pycache__", "kaggle.json", "access_token", "node_modules", "kernel-metadata.json"}
LARGE = 10 * 2**20
Files = dict[str, dict[str, Any]]  # name in the dataset -> {"path", "size"} and, once known, "sha256"


@dataclass
class Staged:
    """One file to upload: `path` on disk goes up as `name`. `member` is the dataset file it is, when it is sent as
    it is (its sha256 is then learned from the upload); None for an archive, whose members are hashed when zipped."""

    path: Path
    name: str
    member: str | None = None


def select(spec: DatasetSpec) -> Files:
    """Every file the spec's globs select, by its name in the dataset; not hashed yet.
    A matched file keeps its name; a matched folder contributes its contents (paths inside it)."""
    files: Files = {}
    for pattern in spec.paths:
        matches = sorted(glob.glob(str(spec.folder / pattern), recursive=True))
        if not matches:
            raise UserError(
                f"{spec.where}: paths: '{pattern}' matches no file in {spec.folder}; fix the glob or "
                f"create the data (prepare: runs first if set)"
            )
        for m in matches:
            p = Path(m)
            base = p.parent if p.is_file() else p
            for f in [p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file()):
                rel = f.relative_to(base).as_posix()
                if rel in files and files[rel]["path"] != str(f):
                    raise UserError(
                        f"{spec.where}: paths: two files would both be '{rel}' in the "
                        f"dataset ({files[rel]['path']} and {f}); narrow the globs"
                    )
                files[rel] = {"size": f.stat().st_size, "path": str(f)}
    return files


def hash_all(files: Files, progress: Callable[[int, int], None] | None = None) -> Files:
    """Fill in the sha256 of every file not hashed yet (a read of each); `progress` gets (bytes hashed, bytes in
    all) after each file."""
    todo = [f for f in files.values() if "sha256" not in f]
    total, done = sum(f["size"] for f in todo), 0
    for f in todo:
        f["sha256"] = sha256_file(Path(f["path"]))
        done += f["size"]
        if progress is not None:
            progress(done, total)
    return files


def manifest(spec: DatasetSpec) -> Files:
    """Name in the dataset -> {sha256, size, path} for every file the spec's globs select."""
    return hash_all(select(spec))


def manifest_digest(files: Files) -> str:
    """Content identity of a bundle: names, hashes and sizes (not where the files live locally)."""
    content = {rel: {"sha256": f["sha256"], "size": f["size"]} for rel, f in files.items()}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def stage(files: Files, tmp: Path) -> Iterator[Staged]:
    """Top-level files go up as they are; each top-level folder as one zip, its members hashed while zipped.
    Yields each file as soon as it is ready, so that uploads can start while later folders are still zipped."""
    folders: dict[str, list[str]] = {}
    for rel, f in files.items():
        parts = rel.split("/")
        if len(parts) == 1:
            yield Staged(Path(f["path"]), rel, rel)
        else:
            folders.setdefault(parts[0], []).append(rel)
    for folder, members in sorted(folders.items()):
        archive = tmp / f"{folder}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for rel in members:
                _zip_member(zf, files[rel], rel.split("/", 1)[1])
        yield Staged(archive, archive.name)


def _zip_member(zf: zipfile.ZipFile, f: dict[str, Any], arcname: str) -> None:
    src = Path(f["path"])
    info = zipfile.ZipInfo.from_file(src, arcname)
    info.compress_type = zipfile.ZIP_DEFLATED
    h = hashlib.sha256()
    with open(src, "rb") as inp, zf.open(info, "w", force_zip64=f["size"] > 2**31) as out:
        for block in iter(lambda: inp.read(CHUNK), b""):
            h.update(block)
            out.write(block)
    f.setdefault("sha256", h.hexdigest())


def code_manifest(cfg: Config, shipped: dict[str, Path]) -> Files:
    """The code bundle's files: each code.packages folder and kaggle_runner (when kr.yaml has `code:`), as
    `<package>/<path>`, and the kernels' folders' files (`shipped`, from kernel_files) as `kr-src/<path>`."""
    import kaggle_runner

    folders = [cfg.root / p for p in cfg.packages] + [Path(kaggle_runner.__file__).parent]
    files: Files = {}
    for folder in folders if cfg.ships_packages else []:
        for f in sorted(folder.rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts and f.suffix not in (".pyc", ".pyo"):
                files[f"{folder.name}/{f.relative_to(folder).as_posix()}"] = _entry(f)
    for rel, path in shipped.items():
        files[f"{SRC}/{rel}"] = _entry(path)
    return files


def _entry(f: Path) -> dict[str, Any]:
    return {"sha256": sha256_file(f), "size": f.stat().st_size, "path": str(f)}


def kernel_files(cfg: Config) -> dict[str, Path]:
    """Every file of every kernel's folder that the entry may import or open, by its path from the project root.
    Left out: the entries (each goes up as its kernel's source), what .gitignore ignores, hidden files and folders
    (.env, .git, .kr), virtual environments, caches, Kaggle credentials, kr.yaml, code.packages (in the wheel),
    and the files of declared datasets (they go up as their own bundles)."""
    root = cfg.root.resolve()
    skip = {(k.folder / k.entry).resolve() for k in cfg.kernels.values()} | {root / "kr.yaml"}
    inside = [(root / p).resolve() for p in cfg.packages] + _dataset_paths(cfg)
    found: dict[str, Path] = {}
    for folder in sorted({k.folder.resolve() for k in cfg.kernels.values()}):
        ignores = [_gitignore(d) for d in reversed([folder, *folder.parents]) if d.is_relative_to(root)]
        for dirpath, dirnames, filenames in os.walk(folder):
            here = Path(dirpath)
            if here != folder:
                ignores.append(_gitignore(here))  # walked top-down: a folder's rules come after its parents'
            dirnames[:] = sorted(d for d in dirnames if _kept(here / d, True, skip, inside, ignores))
            for name in sorted(filenames):
                path = here / name
                if path.suffix not in (".pyc", ".pyo") and path.is_file() and _kept(path, False, skip, inside, ignores):
                    found[path.relative_to(root).as_posix()] = path
    return found


Ignores = list[tuple[Path, "pathspec.GitIgnoreSpec | None"]]  # a folder and the rules of its .gitignore


def _kept(path: Path, is_dir: bool, skip: set[Path], inside: list[Path], ignores: Ignores) -> bool:
    if path.name.startswith(".") or path.name in LEFT_OUT or path in skip:
        return False
    if any(path == p or path.is_relative_to(p) for p in inside):
        return False
    if is_dir and (path / "pyvenv.cfg").exists():
        return False
    ignored = False
    for base, spec in ignores:  # as git: the deepest .gitignore's last matching rule decides (`!keep.log`)
        if spec is not None and path.is_relative_to(base):
            decided = spec.check_file(path.relative_to(base).as_posix() + ("/" if is_dir else "")).include
            ignored = ignored if decided is None else decided
    return not ignored


def _gitignore(folder: Path) -> tuple[Path, pathspec.GitIgnoreSpec | None]:
    f = folder / ".gitignore"
    if not f.is_file():
        return folder, None
    return folder, pathspec.GitIgnoreSpec.from_lines(f.read_text(errors="replace").splitlines())


def _dataset_paths(cfg: Config) -> list[Path]:
    """What the declared datasets hold: a dataset.yaml's whole folder, and what kr.yaml's dataset globs match."""
    out = []
    for spec in cfg.datasets.values():
        if spec.folder.resolve() != cfg.root.resolve():
            out.append(spec.folder.resolve())
        out += [Path(m).resolve() for p in spec.paths for m in glob.glob(str(spec.folder / p), recursive=True)]
    return out


def large(files: Files, limit: int = LARGE) -> list[str]:
    """A warning for each kernel-folder file of `limit` bytes or more: it goes up again with every change."""
    return [
        f"{rel.removeprefix(SRC + '/')} ({f['size'] / 1e6:.1f} MB) goes up with the kernel's code; large data belongs "
        "in datasets: (kr.yaml), and .gitignore leaves a file out"
        for rel, f in files.items()
        if rel.startswith(SRC + "/") and f["size"] >= limit
    ]


def build_wheel(files: Files, digest: str, out: Path) -> Path:
    """A pure-Python wheel of the code bundle, built by pip from a generated project."""
    import shutil

    project = out / "project"
    for rel, f in files.items():
        target = project / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f["path"], target)
    packages = sorted({rel.split("/")[0] for rel in files})
    include = json.dumps([p + suffix for p in packages for suffix in ("", ".*")])
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "kr-code"\nversion = "0+{digest[:12]}"\n'
        f"[tool.setuptools.packages.find]\ninclude = {include}\n"
        '[tool.setuptools.package-data]\n"*" = ["*"]\n'
    )
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out / "dist"),
            str(project),
        ],
        capture_output=True,
        text=True,
    )
    wheels = list((out / "dist").glob("*.whl"))
    if r.returncode != 0 or not wheels:
        errors = [ln.strip() for ln in (r.stderr + r.stdout).splitlines() if "error" in ln.lower()]
        raise UserError(
            f"building the code bundle failed: {errors[-1] if errors else f'pip wheel exited {r.returncode}'}"
        )
    return wheels[0]
