"""Confines one kernel session like a Kaggle container: own PID, mount, IPC, UTS, cgroup and network namespaces, a
private root of read-only system folders plus /kaggle, an unprivileged user and only the environment it is given."""

# Run as `python -I sandbox.py SPEC.json` (stdlib only, so it needs nothing from the emulator's environment). The
# spec says what to bind where; see `Spec`. The launcher forks an init (PID 1 of the new PID namespace) that builds
# the root, then forks the kernel and reaps; when init exits, every process left in the session dies with it.

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import platform
import re
import resource
import secrets
import signal
import socket
import struct
import sys
import threading
from typing import Any, TypedDict

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWCGROUP = 0x00020000, 0x04000000, 0x08000000, 0x02000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
EXIT_NO_SANDBOX = 97  # the executor reads this as "the session could not be confined"
NOBODY = 65534  # the kernel's user when the emulator runs as root
INSIDE_UID = 1000  # the kernel's user inside a user namespace, mapped to the emulator's own user
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


class Spec(TypedDict):
    root: str  # an empty folder; the session's root is built on a tmpfs mounted there
    binds: list[list[Any]]  # [target inside, host path, read_only]; parents before children
    links: list[list[str]]  # [path inside, link target]: made in the root after the binds
    files: list[list[Any]]  # [path inside, text, mode]: small files written after the binds, over a bound one too
    writable: list[str]  # host folders the kernel's user must own (its /kaggle/working, /tmp, ...)
    devices: list[str]  # extra host device nodes or folders (GPUs, TPUs)
    api: dict[str, Any] | None  # {port, socket}: the emulator's API on 127.0.0.1:port, forwarded to that socket
    cwd: str
    argv: list[str]  # argv[0] is an absolute path inside the root
    env: dict[str, str]  # the kernel's whole environment
    processes: int  # the kernel's RLIMIT_NPROC (its user's processes and threads)
    shm_bytes: int  # the size of /dev/shm


class SandboxError(Exception):
    pass


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise SandboxError(f"{what}: {os.strerror(err)}")


def _mount(src: str | None, dst: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(_libc.mount(enc(src), enc(dst), enc(fstype), flags, enc(data)), f"mount {src or fstype} on {dst}")


def _locked_flags(path: str) -> int:
    # A read-only remount inside a user namespace must keep the flags the outer mount has.
    st = os.statvfs(path)
    flags = 0
    for st_flag, ms_flag in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC)):
        if st.f_flag & st_flag:
            flags |= ms_flag
    return flags


def _bind(host: str, dst: str, read_only: bool) -> None:
    if os.path.isdir(host):
        os.makedirs(dst, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if not os.path.exists(dst):
            open(dst, "w").close()
    _mount(host, dst, None, MS_BIND | MS_REC)
    if read_only:
        # the remount covers one mount: each one below it (/sys/fs/cgroup, say) stays writable unless remounted too
        for point in [dst, *_mounts_below(dst)]:
            _mount(None, point, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | _locked_flags(point))


def _mounts_below(folder: str) -> list[str]:
    """The mount points under `folder` in this mount namespace, parents before children (/proc/self/mountinfo,
    whose fifth field escapes space, tab, newline and backslash as octal)."""
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        points = [re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4]) for line in f]
    return [p for p in points if p.startswith(folder.rstrip("/") + "/")]


def _unshare() -> bool:
    """Enter the new namespaces; True when a user namespace was needed (the emulator is not root)."""
    # a cgroup namespace of its own: the kernel sees its cgroup as the root, not the emulator's hierarchy; a network
    # namespace of its own, with or without internet: nothing on the host's loopback or abstract sockets is in reach
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP | CLONE_NEWNET
    if os.geteuid() == 0 and _libc.unshare(flags) == 0:
        return False
    uid, gid = os.geteuid(), os.getegid()
    _check(_libc.unshare(flags | CLONE_NEWUSER), "unshare(user, pid, mount, ipc, uts namespaces)")
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{INSIDE_UID} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{INSIDE_UID} {gid} 1")
    return True


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(s, SIOCGIFFLAGS, ifr))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP))


def _listen_for_api(api: dict[str, Any]) -> socket.socket:
    """The session's end of the emulator's API: 127.0.0.1:port in its own network namespace, listening before the
    kernel starts (so its first call finds it)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(api["port"])))
    listener.listen(128)
    return listener


def _forward_api(listener: socket.socket, path: str) -> None:
    """Carry each connection to 127.0.0.1:port over to the emulator's socket, bytes both ways, in threads of PID 1:
    the one way out of the session's network namespace, and it leads to the API only."""

    def pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                up.connect(path)
            except OSError:
                conn.close()
                up.close()
                continue
            for a, b in ((conn, up), (up, conn)):
                threading.Thread(target=pump, args=(a, b), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()


def _build_root(spec: Spec, in_userns: bool) -> None:
    root = spec["root"]
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
    for path in SYSTEM:
        if os.path.islink(path):
            os.symlink(os.readlink(path), root + path)
        elif os.path.isdir(path):
            _bind(path, root + path, read_only=True)
    _build_dev(root, spec["devices"], spec["shm_bytes"])
    os.makedirs(root + "/proc")
    try:
        _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except SandboxError:
        if not in_userns:
            raise
        # Some container hosts mask parts of their /proc, and then a user namespace may not mount a new one;
        # the session goes without /proc rather than seeing the host's.
    if os.path.isdir("/sys"):
        _bind("/sys", root + "/sys", read_only=True)
    for target, host, read_only in spec["binds"]:
        _bind(host, root + target, bool(read_only))
    for target, link in spec["links"]:
        os.makedirs(os.path.dirname(root + target), exist_ok=True)
        os.symlink(link, root + target)
    for target, text, mode in spec["files"]:
        _write(root, target, text, mode)
    for folder in ("/kaggle/input", "/kaggle/working", "/kaggle/temp", "/tmp", "/root"):
        os.makedirs(root + folder, exist_ok=True)
    _mount(None, root, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    _pivot(root)


def _write(root: str, target: str, text: str, mode: int) -> None:
    """Write a file into the new root; where a read-only bind already has one, write it aside and bind it over."""
    path = root + target
    if os.path.lexists(path):
        aside, path = path, root + "/.written"
    else:
        aside = None
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)
    if aside:
        _mount(path, aside, None, MS_BIND)
        _mount(None, aside, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | _locked_flags(aside))
        os.unlink(path)


def _build_dev(root: str, extra: list[str], shm_bytes: int) -> None:
    dev = root + "/dev"
    os.makedirs(dev)
    _mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755")
    for name in DEVICES:
        if os.path.exists("/dev/" + name):
            _bind("/dev/" + name, f"{dev}/{name}", read_only=False)
    for path in extra:
        _bind(path, root + path, read_only=False)
    os.makedirs(dev + "/shm")
    _mount("tmpfs", dev + "/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={shm_bytes}")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1")):
        os.symlink(target, f"{dev}/{name}")
    os.symlink("/proc/self/fd/2", dev + "/stderr")


def _pivot(root: str) -> None:
    os.chdir(root)
    number = PIVOT_ROOT.get(platform.machine())
    if number is None:
        os.chroot(".")
    else:
        _check(_libc.syscall(number, b".", b"."), "pivot_root")
        _check(_libc.umount2(b".", MNT_DETACH), "detach the host's root")
    os.chdir("/")


def _drop_privileges(in_userns: bool) -> None:
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(no_new_privs)")
    if not in_userns:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    # In a user namespace the kernel already runs as INSIDE_UID; exec as non-root drops the namespace's
    # capabilities.


def _init(spec: Spec, in_userns: bool, status_fd: int) -> None:
    """PID 1 of the session: build the root, start the kernel, pass on signals, reap, report its status."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    listener = None
    try:
        _build_root(spec, in_userns)
        _loopback_up()
        if spec["api"]:
            listener = _listen_for_api(spec["api"])
        socket.sethostname(secrets.token_hex(6))
    except (OSError, SandboxError) as e:
        print(f"sandbox: cannot confine this session ({e})", file=sys.stderr, flush=True)
        os._exit(EXIT_NO_SANDBOX)
    kernel = os.fork()
    if kernel == 0:
        try:
            _drop_privileges(in_userns)
            # against a fork bomb between two of the emulator's checks; in a user namespace the count is this
            # session's own, and as root all sessions' user (nobody) shares it
            hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
            cap = spec["processes"] if hard == resource.RLIM_INFINITY else min(spec["processes"], hard)
            resource.setrlimit(resource.RLIMIT_NPROC, (cap, cap))
            os.chdir(spec["cwd"])
            os.execve(spec["argv"][0], spec["argv"], spec["env"])
        except (OSError, SandboxError) as e:
            print(f"sandbox: cannot start the kernel ({e})", file=sys.stderr, flush=True)
        os._exit(EXIT_NO_SANDBOX)
    if listener is not None and spec["api"]:
        _forward_api(listener, spec["api"]["socket"])  # threads only after the fork
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, lambda signum, frame: _forward(kernel, signum))
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(EXIT_NO_SANDBOX)
        if pid == kernel:
            os.write(status_fd, str(status).encode())
            os._exit(0)


def _forward(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _own(folders: list[str], in_userns: bool) -> None:
    if not in_userns:
        for folder in folders:
            os.chown(folder, NOBODY, NOBODY)


def run(spec: Spec) -> int:
    """Confine and run the session; returns the exit code to pass on (or dies by the kernel's signal)."""
    try:
        in_userns = _unshare()
        _own(spec["writable"], in_userns)
    except (OSError, SandboxError) as e:
        print(f"sandbox: cannot confine this session ({e})", file=sys.stderr, flush=True)
        return EXIT_NO_SANDBOX
    read_fd, write_fd = os.pipe()
    init = os.fork()
    if init == 0:
        os.close(read_fd)
        _init(spec, in_userns, write_fd)
    os.close(write_fd)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: _forward(init, signum))
    _, status = os.waitpid(init, 0)
    with os.fdopen(read_fd) as f:
        reported = f.read()
    if reported:  # else init itself ended (could not confine, or was killed): pass that on
        status = int(reported)
    if os.WIFSIGNALED(status):
        killed_by = os.WTERMSIG(status)
        signal.signal(killed_by, signal.SIG_DFL)
        os.kill(os.getpid(), killed_by)
    return os.waitstatus_to_exitcode(status)


# How the emulator starts a session with no host path in any argument, since a kernel can read PID 1's command line
# (/proc/1/cmdline): `python -I -c LAUNCH` under the name `kaggle-session`, reading this module's source and the spec
# as one JSON line on stdin.
LAUNCH = (
    "import json, sys; d = json.loads(sys.stdin.readline()); g = {'__name__': 'kaggle_session'}; "
    "exec(compile(d['source'], 'sandbox.py', 'exec'), g); g['launched'](d['spec'])"
)


def launched(spec: Spec) -> None:
    """Run as LAUNCH starts it: stdin, which carried the spec, is /dev/null for the session."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.exit(run(spec))


def main(argv: list[str]) -> None:
    with open(argv[0], encoding="utf-8") as f:
        spec: Spec = json.load(f)
    sys.exit(run(spec))


if __name__ == "__main__":
    main(sys.argv[1:])
