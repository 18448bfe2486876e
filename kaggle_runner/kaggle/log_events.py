"""Kaggle's persisted kernel log: a JSON array of {stream_name, time, data} events (docs/log-formats.md).
Text that is not that array is read as one stdout event per line."""

from __future__ import annotations

import json
import re
from typing import Any


def parse_log(text: str) -> list[dict[str, Any]]:
    """Kaggle's persisted log (a JSON array of {stream_name, time, data}); other text as one event per line."""
    if not text.strip():
        return []
    try:
        events = json.loads(text)
        if isinstance(events, dict):
            events = [events]
        if isinstance(events, list) and all(isinstance(e, dict) for e in events):
            return events
    except json.JSONDecodeError:
        pass
    return [{"stream_name": "stdout", "data": line} for line in text.splitlines(keepends=True)]


_TIME = re.compile(r'"time"\s*:\s*([0-9]+(?:\.[0-9]+)?)')


def session_seconds(text: str) -> float | None:
    """How long the session ran, as far as its log tells: the `time` of its last event (seconds from the session's
    start). Read from the log's end, so a log of any length is not parsed again; None for a log without events."""
    found = _TIME.findall(text[-65536:])
    return float(found[-1]) if found else None
