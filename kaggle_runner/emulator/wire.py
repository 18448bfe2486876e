"""Wire encoding shared by the emulator's services: errors, timestamps, durations, request fields.
Follows docs/wire-protocol.md §1.3-1.4: camelCase JSON, enums as names, `...Z` timestamps, `"Ns"` durations."""

from __future__ import annotations

import builtins
import re
import time
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any


class ApiError(Exception):
    """An error answered as `{"code": N, "message": "..."}` with HTTP status N."""

    def __init__(self, code: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}


def timestamp(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    dt = datetime.fromtimestamp(epoch, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def duration(seconds: float) -> str:
    # Sent as whole seconds: the client's own encoder drops days, but its decoder reads any count.
    return f"{int(seconds)}s"


def http_date(epoch: float) -> str:
    return formatdate(epoch, usegmt=True)


def now() -> float:
    return time.time()


def clean(d: dict[str, Any]) -> dict[str, Any]:
    """Drop None values: the client treats a missing optional field as unset, but null lists crash it."""
    return {k: v for k, v in d.items() if v is not None}


class Body:
    """Typed access to a JSON request body; a field of the wrong type is a 400, never a traceback."""

    def __init__(self, data: Any):
        if not isinstance(data, dict):
            raise ApiError(400, "request body must be a JSON object")
        self.data = data

    def _get(self, key: str, types: tuple[type, ...], default: Any, what: str) -> Any:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, bool) and bool not in types:
            raise ApiError(400, f"field '{key}' must be {what}")
        if not isinstance(value, types):
            raise ApiError(400, f"field '{key}' must be {what}")
        return value

    def str(self, key: str, default: str = "") -> str:
        return self._get(key, (str,), default, "a string")

    def int(self, key: builtins.str, default: builtins.int | None = 0) -> builtins.int | None:
        value = self.data.get(key)
        if isinstance(value, builtins.str) and re.fullmatch(r"-?\d+", value):
            return int(value)  # int64 fields may arrive as strings from other clients
        return self._get(key, (builtins.int,), default, "an integer")

    def bool(self, key: builtins.str, default: builtins.bool | None = False) -> builtins.bool | None:
        value = self.data.get(key)
        if isinstance(value, builtins.str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return self._get(key, (builtins.bool,), default, "a boolean")

    def list(self, key: builtins.str) -> builtins.list:
        value = self._get(key, (builtins.list,), [], "a list")
        return value

    def str_list(self, key: builtins.str) -> builtins.list[builtins.str]:
        value = self.list(key)
        if not all(isinstance(v, builtins.str) for v in value):
            raise ApiError(400, f"field '{key}' must be a list of strings")
        return value

    def enum(self, key: builtins.str, names: tuple[builtins.str, ...], prefix: builtins.str = "") -> builtins.str:
        """An enum sent by name; accepts the forms the SDK accepts (case, type prefix)."""
        value = self.data.get(key)
        if value is None or value == "":
            return names[0]
        if not isinstance(value, builtins.str):
            raise ApiError(400, f"field '{key}' must be an enum name (one of {', '.join(names)})")
        v = value.upper()
        if prefix and v.startswith(prefix):
            v = v[len(prefix) :]
        if v not in names:
            raise ApiError(400, f"field '{key}': unknown value '{value}' (one of {', '.join(names)})")
        return v


def visible(found: dict[str, Any] | None, user: dict[str, Any] | None, what: str) -> dict[str, Any]:
    """A dataset's or model's record if this user may see it (its owner, or anyone when public); else a 404, as for
    one that does not exist: a 403 would name another user's private one."""
    if found is None or (found["isPrivate"] and (user is None or user["username"] != found["owner"])):
        raise ApiError(404, f"{what} not found")
    return found


def split_ref(ref: builtins.str, what: builtins.str) -> tuple[builtins.str, builtins.str, builtins.int | None]:
    """'owner/slug[/version]' -> (owner, slug, version)."""
    parts = ref.strip("/").split("/")
    version = None
    if len(parts) == 3 and parts[2].isdigit():
        version = int(parts[2])
        parts = parts[:2]
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise ApiError(400, f"{what} '{ref}' must look like owner/slug")
    return parts[0], parts[1], version
