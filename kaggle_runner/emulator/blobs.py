"""Blob uploads: StartBlobUpload and the PUT to its createUrl, including the resumable-upload protocol.
Bytes stream to disk as they arrive, so a dropped connection leaves a partial blob that a probe can resume."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

from kaggle_runner.emulator.responses import Raw
from kaggle_runner.emulator.store import Store
from kaggle_runner.emulator.wire import ApiError, Body, now

BLOB_TYPES = ("API_BLOB_TYPE_UNSPECIFIED", "DATASET", "MODEL", "INBOX", "COMPETITION_SOLUTION")
RANGE_RE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
PROBE_RE = re.compile(r"bytes \*/(\d+)")


class Blobs:
    def __init__(self, store: Store):
        self.store = store
        self.dir = self.store.root / "blobs"

    def routes(self) -> dict[str, tuple[Any, bool]]:
        return {"blobs.BlobApiService/StartBlobUpload": (self.start_blob_upload, True)}

    # -- shared with submissions -----------------------------------------------------------------
    def create(self, user: dict[str, Any], name: str, length: int | None, kind: str, base_url: str) -> dict[str, str]:
        if not name or "/" in name or "\\" in name or name in (".", "..") or any(c < " " or c == "\x7f" for c in name):
            # a NUL or control character would break the archive and the dataset would stay processing for ever
            raise ApiError(400, f"invalid file name {name!r}")
        if length is not None and length < 0:
            raise ApiError(400, "contentLength must not be negative")
        if length and length > self.store.settings["max_blob_bytes"]:
            raise ApiError(
                400, f"file '{name}' is {length} bytes; the limit is {self.store.settings['max_blob_bytes']}"
            )
        token = f"{kind[:3].lower()}{self.store.next_id('blob')}-{secrets.token_hex(6)}"
        self.sweep()
        with self.store.lock:
            self.store.state["blobs"][token] = {
                "name": name,
                "type": kind,
                "length": length or None,
                "owner": user["username"],
                "created": now(),
                "complete": False,
            }
            self.store.save()
        return {"token": token, "createUrl": f"{base_url}/upload/{token}"}

    def sweep(self) -> int:
        """Drop uploads older than the TTL that no create call took (killed or abandoned clients); returns how many."""
        ttl, dropped = self.store.settings["blob_ttl_seconds"], 0
        with self.store.lock:
            blobs = self.store.state["blobs"]
            for token in [t for t, b in blobs.items() if now() - b["created"] > ttl]:
                (self.dir / token).unlink(missing_ok=True)
                del blobs[token]
                dropped += 1
            if dropped:
                self.store.save()
        return dropped

    def take_files(self, body: Body, user: dict[str, Any], what: str) -> list[tuple[dict[str, Any], Path]]:
        """The completed blobs a create call names in `files` ([{token}]), for a new version of `what`."""
        files = body.list("files")
        if not files:
            raise ApiError(400, f"a {what} version needs at least one file")
        taken = []
        for f in files:
            token = f.get("token") if isinstance(f, dict) else None
            if not isinstance(token, str):
                raise ApiError(400, "each entry of 'files' needs a string 'token'")
            taken.append(self.take(token, user["username"]))
        return taken

    def take(self, token: str, owner: str) -> tuple[dict[str, Any], Path]:
        """A completed blob of this user, for a create call; 400 if unknown or incomplete."""
        blob = self.store.state["blobs"].get(token)
        if not blob or blob["owner"] != owner:
            raise ApiError(400, f"unknown upload token '{token}'")
        if not blob["complete"]:
            raise ApiError(400, f"upload '{blob['name']}' ({token}) is not complete")
        return blob, self.dir / token

    # -- RPC -------------------------------------------------------------------------------------
    def start_blob_upload(self, req: Any) -> dict[str, str]:
        body = Body(req.body_json())
        kind = body.enum("type", BLOB_TYPES, "API_BLOB_TYPE_")
        return self.create(req.user, body.str("name"), body.int("contentLength"), kind, req.base_url)

    # -- PUT <createUrl> -------------------------------------------------------------------------
    def put(self, req: Any) -> Any:
        token = req.path.rstrip("/").split("/")[-1]
        blob = self.store.state["blobs"].get(token)
        if blob is None:
            raise ApiError(404, "unknown or expired upload URL")
        path = self.dir / token
        have = path.stat().st_size if path.exists() else 0
        crange = req.headers.get("Content-Range", "").strip()
        limit = self.store.settings["max_blob_bytes"]

        probe = PROBE_RE.fullmatch(crange)
        if probe:
            req.handler.read_body(0)
            total = int(probe.group(1))
            if blob["complete"]:
                return Raw(200, b"{}", {"Content-Type": "application/json"})
            blob["length"] = total
            headers = {"Range": f"bytes=0-{have - 1}"} if have else {}
            return Raw(308, b"", headers)

        start, total = 0, blob["length"]
        m = RANGE_RE.fullmatch(crange)
        if m:
            start, total = int(m.group(1)), int(m.group(3))
            if start != have:
                raise ApiError(400, f"Content-Range starts at {start}, but {have} bytes were received")
        elif crange:
            raise ApiError(400, f"malformed Content-Range '{crange}'")
        if total is not None and total > limit:
            raise ApiError(413, f"upload larger than {limit} bytes")

        mode = "ab" if start else "wb"
        received = start
        try:
            with open(path, mode) as f:
                for chunk in req.handler.body_chunks(limit - start):
                    f.write(chunk)
                    received += len(chunk)
        finally:
            with self.store.lock:
                blob["received"] = received
                self.store.save()
        if total is not None and received < total:
            headers = {"Range": f"bytes=0-{received - 1}"} if received else {}
            return Raw(308, b"", headers)
        if total is not None and received > total:
            path.unlink(missing_ok=True)
            raise ApiError(400, f"received {received} bytes, but {total} were announced")
        with self.store.lock:
            blob["complete"] = True
            blob["length"] = received
            self.store.save()
        return Raw(200, b"{}", {"Content-Type": "application/json"})
