"""Launcher that gives a kernel Kaggle's paths: /kaggle/input/<slug> (read-only) and /kaggle/working.
Builds a private root in an unprivileged mount namespace (binds of every top-level folder), then execs."""

from __future__ import annotations

import ctypes
import os
import sys
import tempfile

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
EXIT_NO_SANDBOX = 97  # the executor reads this as "this OS does not allow the mapping"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src: str | None, dst: str, fstype: str | None, flags: int) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(_libc.mount(enc(src), enc(dst), enc(fstype), flags, None), f"mount {src} on {dst}")


def _unshare() -> None:
    uid, gid = os.getuid(), os.getgid()
    if uid == 0 and _libc.unshare(CLONE_NEWNS) == 0:
        return
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare(user, mount namespaces)")
    # Keep the caller's ids inside, so files written to /kaggle/working belong to them outside.
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid} {gid} 1")


def _locked_flags(path: str) -> int:
    # A read-only remount inside a user namespace must keep the flags the outer mount has.
    st = os.statvfs(path)
    flags = 0
    for st_flag, ms_flag in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC)):
        if st.f_flag & st_flag:
            flags |= ms_flag
    return flags


def enter(maps: list[tuple[str, str, bool]], cwd: str, root: str) -> None:
    """Switch this process to a root (built on the empty folder `root`) where each
    (target, host_dir, read_only) is mounted."""
    _unshare()
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    os.makedirs(root, exist_ok=True)
    _mount("tmpfs", root, "tmpfs", 0)
    for entry in sorted(os.listdir("/")):
        src, dst = "/" + entry, os.path.join(root, entry)
        if entry == "kaggle":
            continue  # the kernel sees only its own /kaggle
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        elif os.path.isdir(src):
            os.mkdir(dst)
            _mount(src, dst, None, MS_BIND | MS_REC)
        elif os.path.exists(src):
            open(dst, "w").close()
            _mount(src, dst, None, MS_BIND)
    for target, host, read_only in maps:
        dst = os.path.join(root, target.lstrip("/"))
        os.makedirs(dst, exist_ok=True)
        _mount(host, dst, None, MS_BIND | MS_REC)
        if read_only:
            _mount(None, dst, None, MS_BIND | MS_REMOUNT | MS_RDONLY | _locked_flags(host))
    os.chroot(root)
    os.chdir(cwd)


def main(argv: list[str]) -> None:
    """sandbox.py --root EMPTY_DIR [--map TARGET=HOST[:ro]]... --cwd DIR -- CMD...  |  --root DIR --probe"""
    maps, cwd, root, i = [], "/", "", 0
    probe = "--probe" in argv
    while i < len(argv) and argv[i] != "--":
        if argv[i] == "--map":
            spec = argv[i + 1]
            target, _, host = spec.partition("=")
            ro = host.endswith(":ro")
            maps.append((target, host[:-3] if ro else host, ro))
            i += 2
        elif argv[i] == "--cwd":
            cwd = argv[i + 1]
            i += 2
        elif argv[i] == "--root":
            root = argv[i + 1]
            i += 2
        else:
            i += 1
    cmd = argv[i + 1 :]
    root = root or tempfile.mkdtemp(prefix="kr-root-")
    try:
        if probe:
            enter([("/kaggle/working", os.path.dirname(root), False)], "/kaggle/working", root)
            sys.exit(0 if os.path.isdir("/kaggle/working") else EXIT_NO_SANDBOX)
        enter(maps, cwd, root)
    except OSError as e:
        print(f"sandbox: cannot map /kaggle on this machine ({e})", file=sys.stderr)
        sys.exit(EXIT_NO_SANDBOX)
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
