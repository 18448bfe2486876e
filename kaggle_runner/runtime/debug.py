"""may_debug(): a breakpoint that opens only when asked (KR_DEBUG set) and someone can answer (a terminal).
On Kaggle, in CI and in the emulator there is no terminal, so it returns at once; no git, no network."""

from __future__ import annotations

import os
import sys


def wanted() -> bool:
    """Whether KR_DEBUG asks for the debugger and a terminal is there to use it."""
    return bool(os.environ.get("KR_DEBUG")) and sys.stdin.isatty() and sys.stdout.isatty()


def may_debug() -> bool:
    """Open pdb in the caller's frame when KR_DEBUG is set and stdin/stdout are terminals; True if it did."""
    if not wanted():
        return False
    import pdb

    pdb.Pdb().set_trace(sys._getframe(1))
    return True
