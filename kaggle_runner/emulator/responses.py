"""What a route may answer besides a JSON object (a redirect, a stored file, a stream, raw bytes), and the signed
URLs under which stored files are served, like Kaggle's signed storage URLs. The server encodes them."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote


@dataclass
class Redirect:
    url: str


@dataclass
class FileResponse:
    path: Path
    content_type: str = "application/octet-stream"


@dataclass
class Stream:
    chunks: Iterator[bytes]
    content_type: str = "text/event-stream"


@dataclass
class Raw:
    status: int
    body: bytes = b""
    headers: dict[str, str] | None = None


class FileUrls:
    """Unauthenticated URLs for stored files, signed with the state's secret and expiring like Kaggle's signed storage
    URLs: /files/<signature>/<expires>/<kind>/<path>. `lifetime()` is read at signing, so a setting change applies."""

    def __init__(self, secret: str, lifetime: Callable[[], float] = lambda: 600.0):
        self.secret, self.lifetime = secret, lifetime

    def sign(self, expires: int, path: str) -> str:
        return hmac.new(self.secret.encode(), f"{expires}/{path}".encode(), hashlib.sha256).hexdigest()[:20]

    def url(self, base_url: str, rel: str) -> str:
        expires = int(time.time() + self.lifetime())
        quoted = "/".join(quote(p) for p in rel.split("/"))
        return f"{base_url}/files/{self.sign(expires, unquote(quoted))}/{expires}/{quoted}"

    def refusal(self, signature: str, expires: str, rel: str) -> str | None:
        """Why a request for this URL is refused (a 403, as signed storage answers), or None."""
        if not expires.isdigit() or not hmac.compare_digest(signature, self.sign(int(expires), rel)):
            return "bad file signature"
        if time.time() > int(expires):
            return "this signed URL has expired; list the files again for fresh URLs"
        return None
