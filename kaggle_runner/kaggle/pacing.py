"""How often kr asks Kaggle: the backoff that every poll (status, bundles, sweeps, quota) walks, 5 s growing
to a minute."""

from __future__ import annotations

import os
from collections.abc import Iterator


def poll_intervals(start: float | None = None, cap_ratio: float = 12) -> Iterator[float]:
    """How long to wait between polls: `start` growing by half each time to `cap_ratio` x start, which bounds how
    late an end is noticed. KR_POLL_SECONDS (default 5) sets the start for runs (emulator, tests, benchmarks)."""
    delay = start if start is not None else float(os.environ.get("KR_POLL_SECONDS", "5"))
    cap = cap_ratio * delay
    while True:
        yield delay
        delay = min(cap, delay * 1.5)
