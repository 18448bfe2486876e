"""The emulator's transport: routes, auth, the error envelope, proxy-form targets and injected faults."""

from __future__ import annotations

import socket
import time

import pytest
import requests

from helpers import Api, creds, tree_digest
from kaggle_runner.emulator.faults import FaultError, Faults, Rule, parse_rules


def _raw(url: str, request: bytes) -> bytes:
    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(request)
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def test_both_prefixes_and_absolute_form_targets(api: Api) -> None:
    body = {"competitionName": "tiny-toxic"}
    assert api.call("competitions.GetSubmissionLimits", body, prefix="/v1").status_code == 200
    assert api.call("competitions.GetSubmissionLimits", body, prefix="/api/v1").status_code == 200
    resp = _raw(
        api.url,
        b"POST http://localhost/api/v1/competitions.CompetitionApiService/GetSubmissionLimits HTTP/1.1\r\n"
        b"Host: localhost\r\nAuthorization: Basic " + _basic(api) + b"\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2\r\nConnection: close\r\n\r\n{}",
    )
    assert resp.startswith(b"HTTP/1.1 404")  # routed as an RPC: competition '' is unknown, not a bad path
    assert b'"code": 404' in resp and b"competition" in resp


def test_errors_use_the_json_envelope_and_leave_state_alone(api: Api, emulator) -> None:
    before = tree_digest(emulator.store.root)
    cases = [
        (api.session.post(f"{api.url}/v1/kernels.KernelsApiService/SaveKernel", data=b"{not json", auth=api.auth), 400),
        (api.session.post(f"{api.url}/v1/kernels.KernelsApiService/SaveKernel", json=[1, 2], auth=api.auth), 400),
        (api.call("kernels.SaveKernel", {"slug": "testuser/x-kernel", "text": 5}), 400),
        (api.call("kernels.SaveKernel", {"slug": "testuser/x-kernel"}, auth=("testuser", "0" * 32)), 401),
        (api.call("kernels.SaveKernel", {"slug": "testuser/x-kernel"}, auth=None), 401),
        (api.session.post(f"{api.url}/v1/nope.Service/Method", json={}, auth=api.auth), 404),
        (api.session.request("BREW", f"{api.url}/v1/kernels.KernelsApiService/SaveKernel", auth=api.auth), 405),
        (api.session.delete(f"{api.url}/v1/kernels.KernelsApiService/SaveKernel", auth=api.auth), 405),
    ]
    for response, code in cases:
        assert response.status_code == code, response.text
        assert response.headers["Content-Type"] == "application/json"
        assert response.json()["code"] == code and response.json()["message"]
    huge = _raw(
        api.url,
        b"POST /v1/kernels.KernelsApiService/SaveKernel HTTP/1.1\r\nHost: x\r\nAuthorization: Basic "
        + _basic(api)
        + b"\r\nContent-Length: 1073741824\r\n\r\n{}",
    )
    assert huge.startswith(b"HTTP/1.1 413") and b"larger than" in huge
    assert tree_digest(emulator.store.root) == before


def test_bearer_tokens_and_introspection(emulator) -> None:
    import json

    token = json.loads((emulator.store.root / "config.json").read_text())["users"][0]["tokens"][0]
    r = requests.post(
        f"{emulator.url}/v1/security.OAuthService/IntrospectToken",
        json={"token": token},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert r.json() == {"active": True, "username": "testuser", "userId": 1}
    assert requests.post(
        f"{emulator.url}/v1/security.OAuthService/IntrospectToken", json={"token": "nope"}, timeout=10
    ).json() == {"active": False}
    ok = requests.post(
        f"{emulator.url}/v1/competitions.CompetitionApiService/GetSubmissionLimits",
        json={"competitionName": "tiny-toxic"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert ok.status_code == 200


def test_faults_are_injected_per_route_and_reproducible(make_emulator) -> None:
    rules = [
        Rule(route="competitions.*/GetSubmissionLimits", fault="429", rate=1.0, times=1, retry_after=3),
        Rule(route="competitions.*/GetSubmissionLimits", fault="503", rate=1.0, times=1),
        Rule(route="competitions.*/GetSubmissionLimits", fault="reset", rate=1.0, times=1),
    ]
    em = make_emulator(faults=Faults(rules, seed=1))
    c = creds(em)
    api = Api(em.url, c["username"], c["key"])
    first = api.call("competitions.GetSubmissionLimits", {"competitionName": "tiny-toxic"})
    assert first.status_code == 429 and first.headers["Retry-After"] == "3"
    assert api.call("competitions.GetSubmissionLimits", {"competitionName": "tiny-toxic"}).status_code == 503
    with pytest.raises(requests.ConnectionError):
        api.call("competitions.GetSubmissionLimits", {"competitionName": "tiny-toxic"})
    assert api.call("competitions.GetSubmissionLimits", {"competitionName": "tiny-toxic"}).status_code == 200
    assert [r["fault"] for r in em.requests] == ["429", "503", "reset", None]

    def pattern(seed: int) -> list[bool]:
        f = Faults([Rule(route="*", fault="500", rate=0.5)], seed=seed)
        return [f.pick("x") is not None for _ in range(40)]

    assert pattern(7) == pattern(7) and pattern(7) != pattern(8) and 5 < sum(pattern(7)) < 35


def test_reset_after_applies_the_call_then_drops_the_answer(make_emulator) -> None:
    em = make_emulator(faults=Faults([Rule(route="kernels.*/SaveKernel", fault="reset_after", times=1)]))
    c = creds(em)
    api = Api(em.url, c["username"], c["key"])
    with pytest.raises(requests.ConnectionError):
        api.push("lost-answer", "print(1)")
    # The version exists although the client never saw the answer: what a careful client must check.
    assert api.status("lost-answer", 1)["status"] in ("QUEUED", "RUNNING", "COMPLETE")


def test_slow_fault_delays(make_emulator) -> None:
    em = make_emulator(faults=Faults([Rule(route="competitions.*", fault="slow", delay=0.4)]))
    c = creds(em)
    api = Api(em.url, c["username"], c["key"])
    t = time.time()
    assert api.call("competitions.GetSubmissionLimits", {"competitionName": "tiny-toxic"}).status_code == 200
    assert time.time() - t >= 0.4


def test_fault_rules_are_validated() -> None:
    with pytest.raises(FaultError, match="fault must be one of"):
        parse_rules([{"route": "*", "fault": "418"}])
    with pytest.raises(FaultError, match="unknown keys"):
        parse_rules([{"route": "*", "fault": "500", "probability": 1}])


def _basic(api: Api) -> bytes:
    import base64

    return base64.b64encode(f"{api.auth[0]}:{api.auth[1]}".encode())
