"""Kaggle's persisted kernel log: a JSON array of {stream_name, time, data} events (docs/log-formats.md).
Text that is not that array is read as one stdout event per line."""

from __future__ import annotations

import json
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
