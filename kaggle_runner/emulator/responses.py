"""What a route may answer besides a JSON object (a redirect, a stored file, a stream, raw bytes), and the signed
URLs under which stored files are served, like Kaggle's signed storage URLs. The server encodes them."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
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
    """Unauthenticated URLs for stored files, signed with the state's secret: /files/<signature>/<kind>/<path>."""

    def __init__(self, secret: str):
        self.secret = secret

    def sign(self, path: str) -> str:
        return hmac.new(self.secret.encode(), path.encode(), hashlib.sha256).hexdigest()[:20]

    def url(self, base_url: str, rel: str) -> str:
        rel = "/".join(quote(p) for p in rel.split("/"))
        return f"{base_url}/files/{self.sign(unquote(rel))}/{rel}"

    def verify(self, signature: str, rel: str) -> bool:
        return hmac.compare_digest(signature, self.sign(rel))
