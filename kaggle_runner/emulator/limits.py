"""A session's limits, as a Kaggle container has them: memory, processes and the bytes of its writable folders,
checked by a watchdog that stops the session with a reason once one is passed."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

POLL_SECONDS = 0.5
GiB = 2**30


@dataclass(frozen=True)
class Limits:
    """What one session may use (the emulator's settings `kernel_*`)."""

    memory_bytes: int  # proportional set size of all its processes; Kaggle's sessions have 29-30 GB of RAM
    processes: int  # processes and threads; also the kernel's RLIMIT_NPROC, against fork bombs between two checks
    working_bytes: int  # /kaggle/working, which holds about 20 GB on Kaggle
    scratch_bytes: int  # /tmp, /kaggle/temp and the home folder together

    @classmethod
    def of(cls, settings: dict) -> Limits:
        """The limits the emulator's settings give."""
        return cls(
            memory_bytes=int(settings["kernel_memory_bytes"]),
            processes=int(settings["kernel_max_processes"]),
            working_bytes=int(settings["kernel_working_bytes"]),
            scratch_bytes=int(settings["kernel_scratch_bytes"]),
        )


def watch(
    root_pid: int,
    limits: Limits,
    working: Path,
    scratch: list[Path],
    stop: Callable[[str], None],
    done: threading.Event,
) -> threading.Thread:
    """Start a thread that checks the session under `root_pid` every POLL_SECONDS until `done`, and calls `stop`
    with the reason once, the first time a limit is passed."""

    def loop() -> None:
        disk_every, tick = max(1, int(5 / POLL_SECONDS)), 0  # folder sizes are walked every 5 s, the rest each tick
        while not done.wait(POLL_SECONDS):
            reason = over(root_pid, limits, working if tick % disk_every == 0 else None, scratch)
            tick += 1
            if reason:
                stop(reason)
                return

    thread = threading.Thread(target=loop, name=f"limits-{root_pid}", daemon=True)
    thread.start()
    return thread


def over(root_pid: int, limits: Limits, working: Path | None, scratch: list[Path]) -> str | None:
    """Which limit the session has passed, in words; None while it keeps within them. Folders are measured only
    when `working` is given."""
    pids = descendants(root_pid)
    tasks = sum(_threads(pid) for pid in pids)
    if tasks > limits.processes:
        return f"The session ran more than {limits.processes} processes and threads (kernel_max_processes)"
    used = sum(_pss(pid) for pid in pids)
    if used > limits.memory_bytes:
        return (
            f"The session used more than {limits.memory_bytes / GiB:g} GiB of memory (kernel_memory_bytes; "
            "a Kaggle session has about 30 GB) and was stopped"
        )
    if working is not None:
        if folder_bytes([working]) > limits.working_bytes:
            return (
                f"The session wrote more than {limits.working_bytes / GiB:g} GiB to /kaggle/working "
                "(kernel_working_bytes; Kaggle keeps about 20 GB) and was stopped"
            )
        if folder_bytes(scratch) > limits.scratch_bytes:
            return (
                f"The session wrote more than {limits.scratch_bytes / GiB:g} GiB to /tmp and /kaggle/temp "
                "(kernel_scratch_bytes) and was stopped"
            )
    return None


def descendants(root_pid: int) -> list[int]:
    """root_pid and every process below it. An orphan is adopted by the session's own PID 1, which is below it too,
    so a kernel cannot leave the count by forking twice."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])  # the name in parentheses may hold spaces
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _threads(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def _pss(pid: int) -> int:
    """The process's share of the memory it uses (shared pages divided among their users), in bytes."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def folder_bytes(folders: list[Path]) -> int:
    """Bytes the files under `folders` take on disk, walked with a stack (any depth) and following no links."""
    total, todo = 0, [str(f) for f in folders]
    while todo:
        try:
            entries = list(os.scandir(todo.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    todo.append(entry.path)
                else:
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
    return total
