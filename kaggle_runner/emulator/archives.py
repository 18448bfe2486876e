"""Safe unpacking of uploaded zip/tar archives into a dataset version folder, and zips of folders to download.
Every member is checked before anything is written: no absolute paths, no '..', no links, a size cap."""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO, Any

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")


class ArchiveError(ValueError):
    pass


def files_under(root: Path) -> list[str]:
    """Every regular file under `root`, as sorted relative POSIX paths. Walked with a stack, so a tree of any depth
    is listed (rglob recursed once per level); links are not followed (one would tell whether a host path exists);
    a name that is not UTF-8 can go in no URL or JSON, so it is left out, with one line on stderr."""
    out: list[str] = []
    stack = [(str(root), "")]
    while stack:
        folder, rel = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            name = rel + entry.name
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                print(f"kr emulator: left {name!r} under {root} out of a listing: not UTF-8", file=sys.stderr)
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append((entry.path, name + "/"))
            elif entry.is_file(follow_symlinks=False):
                out.append(name)
    return sorted(out)


def zip_folder(root: Path, target: Path) -> Path:
    """Every file under root into the zip `target` (written aside, then moved), unless it exists already."""
    if not target.exists():
        tmp = target.with_suffix(".part")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in files_under(root):
                zf.write(root / name, name)
        os.replace(tmp, target)
    return target


def folder_name(name: str) -> str | None:
    """'images.zip' -> 'images' (the folder Kaggle makes of an uploaded archive); None if not an archive."""
    for suffix in ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def _safe_member(name: str, archive: str) -> PurePosixPath:
    if "\\" in name or "\x00" in name:
        raise ArchiveError(f"{archive}: member '{name}' has a backslash or NUL in its name")
    p = PurePosixPath(name)
    if p.is_absolute() or any(part == ".." for part in p.parts) or (p.parts and ":" in p.parts[0]):
        raise ArchiveError(f"{archive}: member '{name}' would be written outside the dataset folder")
    return p


def _check_budget(total: int, limit: int, archive: str) -> None:
    if total > limit:
        raise ArchiveError(f"{archive}: unpacks to more than {limit} bytes (the dataset size limit)")


def unpack(archive: Path, name: str, dest: Path, limit: int) -> int:
    """Unpack `archive` (uploaded as `name`) into `dest`; returns bytes written. Raises ArchiveError."""
    lower = name.lower()
    if lower.endswith(".zip"):
        return _unpack_zip(archive, name, dest, limit)
    mode = "r:gz" if lower.endswith((".tar.gz", ".tgz")) else "r:"
    return _unpack_tar(archive, name, dest, limit, mode)


def _copy_limited(src: IO[bytes], dst: Path, left: int, archive: str, limit: int) -> int:
    # Headers can lie about sizes (zip bombs), so the bytes actually written are counted too.
    written = 0
    with open(dst, "wb") as out:
        while True:
            buf = src.read(2**20)
            if not buf:
                return written
            written += len(buf)
            if written > left:
                raise ArchiveError(f"{archive}: unpacks to more than {limit} bytes (the dataset size limit)")
            out.write(buf)


def _unpack_zip(archive: Path, name: str, dest: Path, limit: int) -> int:
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as e:
        raise ArchiveError(f"{name}: not a valid zip archive ({e})") from e
    with zf:
        infos = zf.infolist()
        for info in infos:  # check everything before writing anything
            _safe_member(info.filename, name)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise ArchiveError(f"{name}: member '{info.filename}' is a symbolic link")
        _check_budget(sum(i.file_size for i in infos), limit, name)
        total = 0
        for info in infos:
            target = dest.joinpath(*_safe_member(info.filename, name).parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src:
                    total += _copy_limited(src, target, limit - total, name, limit)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as e:
                raise ArchiveError(f"{name}: cannot read member '{info.filename}' ({e})") from e
        return total


def _unpack_tar(archive: Path, name: str, dest: Path, limit: int, mode: str) -> int:
    try:
        tf = tarfile.open(archive, mode)  # type: ignore[call-overload]  # mode: r: or r:gz
    except (tarfile.TarError, OSError) as e:
        raise ArchiveError(f"{name}: not a valid tar archive ({e})") from e
    with tf:
        try:
            members = tf.getmembers()
        except (tarfile.TarError, OSError, EOFError) as e:
            raise ArchiveError(f"{name}: cannot read the archive ({e})") from e
        for m in members:
            _safe_member(m.name, name)
            if not (m.isfile() or m.isdir()):
                raise ArchiveError(f"{name}: member '{m.name}' is a link or device, which datasets cannot hold")
        _check_budget(sum(m.size for m in members if m.isfile()), limit, name)
        total = 0
        for m in members:
            target = dest.joinpath(*_safe_member(m.name, name).parts) if m.name not in ("", ".") else dest
            if m.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tf.extractfile(m)
            if src is None:
                continue
            with src:
                total += _copy_limited(src, target, limit - total, name, limit)
        return total


def move_file(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def assemble(files: list[tuple[dict[str, Any], Path]], final: Path, limit: int) -> int:
    """Lay out a version folder (a dataset's or a model's) from its uploaded blobs, archives becoming folders, all or
    nothing: built beside `final` and moved in whole. Returns its bytes; raises ArchiveError or OSError."""
    tmp = final.with_name(f".{final.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    total = 0
    try:
        names: set[str] = set()
        for blob, path in files:
            name = blob["name"]
            folder = folder_name(name)
            target = folder or name
            if target in names:
                raise ArchiveError(f"two uploads would both be named '{target}'")
            names.add(target)
            if folder:
                (tmp / folder).mkdir()
                total += unpack(path, name, tmp / folder, limit - total)
            else:
                total += path.stat().st_size
                if total > limit:
                    raise ArchiveError(f"the version is larger than {limit} bytes")
                move_file(path, tmp / name)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return total
