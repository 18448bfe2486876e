"""The control channel of `kr cancel` on Kaggle, which has no API to cancel a run: a private dataset <owner>/kr-control
whose description holds cancel requests, and a kernel with internet reads it (kaggle/in_kernel.py)."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

CONTROL_SLUG = "kr-control"
POLL_SECONDS = 30.0  # how often a kernel asks; `kr cancel` follows the run for a few such periods
EXIT_CANCELLED = 3  # the kernel's exit code when it stops on request (Kaggle then shows the session as ERROR)
KEEP = 50  # requests kept in the description; older ones are dropped
README = "Written by kr (kaggle_runner): `kr cancel` puts cancel requests in this dataset's description.\n"


def requests_in(description: str | None) -> dict[str, Any]:
    """The cancel requests a control dataset's description holds ({} for any other text)."""
    try:
        doc = json.loads(description or "{}")
    except json.JSONDecodeError:
        return {}
    found = doc.get("cancel") if isinstance(doc, dict) else None
    return found if isinstance(found, dict) else {}


def request_cancel(api: Any, owner: str, nonce: str, by: str) -> None:
    """Add a cancel request for the run with this nonce, creating the private control dataset on first use."""
    meta = api.dataset_metadata(owner, CONTROL_SLUG)
    if meta is None:
        with tempfile.TemporaryDirectory(prefix="kr-control-") as tmp:
            readme = Path(tmp) / "README.md"
            readme.write_text(README)
            token = api.upload_file(readme, readme.name)
        api.create_dataset(
            owner,
            CONTROL_SLUG,
            "kr control channel",
            [token],
            lambda: api.dataset_metadata(owner, CONTROL_SLUG),
        )
        meta = api.dataset_metadata(owner, CONTROL_SLUG) or {}
    asked = requests_in(meta.get("description"))
    asked[nonce] = {"by": by, "at": round(time.time())}
    kept = dict(sorted(asked.items(), key=lambda kv: kv[1].get("at", 0) if isinstance(kv[1], dict) else 0)[-KEEP:])
    api.update_dataset_metadata(owner, CONTROL_SLUG, {**meta, "description": json.dumps({"cancel": kept})})


def cancelled_in(text: str) -> dict[str, Any] | None:
    """The KR_CANCELLED line's fields, if the log's text has one ({} when the line is cut short)."""
    for line in text.splitlines():
        i = line.find("KR_CANCELLED {")
        if i >= 0:
            try:
                found = json.loads(line[i + len("KR_CANCELLED ") :])
            except json.JSONDecodeError:
                return {}
            return found if isinstance(found, dict) else {}
    return None
