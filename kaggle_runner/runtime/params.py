"""The run's parameters inside a kernel: kr.yaml `params:` with `kr push --set` or a sweep's point applied,
passed by the bootstrap in the KR_PARAMS variable (the user's source is never edited)."""

from __future__ import annotations

import json
import os
from typing import Any


def params(**defaults: Any) -> dict[str, Any]:
    """The run's params over `defaults` (for running the file by hand): params(lr=1e-5)["lr"]."""
    try:
        given = json.loads(os.environ.get("KR_PARAMS") or "{}")
    except json.JSONDecodeError as e:
        raise ValueError(f"KR_PARAMS is not JSON ({e}); it is set by kr's bootstrap") from e
    return {**defaults, **given}
