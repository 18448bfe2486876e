"""Blob uploads: plain, chunked and resumed after a dropped connection (GCS resumable protocol)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import requests

from helpers import Api


def test_chunked_and_empty_uploads(api: Api, emulator) -> None:
    start = api.ok("blobs.StartBlobUpload", {"type": "DATASET", "name": "empty.txt"})
    assert requests.put(start["createUrl"], data=iter([]), timeout=10).status_code == 200  # requests sends it chunked
    start2 = api.ok("blobs.StartBlobUpload", {"type": "DATASET", "name": "c.txt"})
    assert requests.put(start2["createUrl"], data=iter([b"ab", b"cd"]), timeout=10).status_code == 200
    assert (emulator.store.root / "blobs" / start2["token"]).read_bytes() == b"abcd"


def test_upload_resumes_after_a_dropped_connection(api: Api, emulator) -> None:
    data = bytes(range(256)) * 400  # 100 KiB
    start = api.ok("blobs.StartBlobUpload", {"type": "DATASET", "name": "big.bin", "contentLength": len(data)})
    url = urlsplit(start["createUrl"])
    # Send the headers and 60 KiB, then drop the connection, as a flaky network would.
    with socket.create_connection((url.hostname, url.port)) as s:
        s.sendall(f"PUT {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Length: {len(data)}\r\n\r\n".encode())
        s.sendall(data[:60_000])
    for _ in range(50):
        probe = requests.put(
            start["createUrl"], headers={"Content-Range": f"bytes */{len(data)}"}, data=b"", timeout=10
        )
        if probe.headers.get("Range") == "bytes=0-59999":
            break
    assert probe.status_code == 308 and probe.headers["Range"] == "bytes=0-59999"
    rest = requests.put(
        start["createUrl"],
        data=data[60_000:],
        timeout=10,
        headers={"Content-Range": f"bytes 60000-{len(data) - 1}/{len(data)}"},
    )
    assert rest.status_code == 200
    assert (emulator.store.root / "blobs" / start["token"]).read_bytes() == data
    done = requests.put(start["createUrl"], headers={"Content-Range": f"bytes */{len(data)}"}, data=b"", timeout=10)
    assert done.status_code == 200


def test_upload_refuses_wrong_offsets_unknown_urls_and_oversize(make_emulator) -> None:
    from helpers import creds

    em = make_emulator(settings={"max_blob_bytes": 1000})
    c = creds(em)
    api = Api(em.url, c["username"], c["key"])
    assert (
        api.call("blobs.StartBlobUpload", {"type": "DATASET", "name": "huge", "contentLength": 5000}).status_code == 400
    )
    assert api.call("blobs.StartBlobUpload", {"type": "DATASET", "name": "../x", "contentLength": 5}).status_code == 400
    start = api.ok("blobs.StartBlobUpload", {"type": "DATASET", "name": "x.bin", "contentLength": 10})
    wrong = requests.put(start["createUrl"], data=b"12345", headers={"Content-Range": "bytes 5-9/10"}, timeout=10)
    assert wrong.status_code == 400 and "were received" in wrong.json()["message"]
    assert requests.put(f"{em.url}/upload/nope", data=b"1", timeout=10).status_code == 404
    chunked = requests.put(start["createUrl"], data=iter([b"x" * 600, b"x" * 600]), timeout=10)
    assert chunked.status_code == 413


def test_names_with_a_nul_or_control_character_are_refused_before_anything_is_kept(api: Api, emulator) -> None:
    for name in ("a\x00b.csv", "line\nbreak.csv", "bell\x07.csv", "del\x7f.csv"):
        r = api.call("blobs.StartBlobUpload", {"type": "DATASET", "name": name, "contentLength": 3})
        assert r.status_code == 400 and "invalid file name" in r.json()["message"], (name, r.text)
    assert emulator.store.state["blobs"] == {}
