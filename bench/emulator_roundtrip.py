"""Benchmark: the emulator's SaveKernel -> COMPLETE time for a print-only kernel, and its status-call rate.
Peers measured in the same run: a bare `python -c print` (the floor of running any kernel) and a bare
stdlib HTTP server answering `{}` (the floor of any JSON-over-HTTP answer)."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row  # noqa: E402

from kaggle_runner.emulator import Emulator  # noqa: E402
from kaggle_runner.emulator.seed import init_state  # noqa: E402

RUNS = 10
CALLS = 2000


def save_to_complete(session: requests.Session, url: str, n: int) -> float:
    t0 = time.perf_counter()
    r = session.post(
        f"{url}/v1/kernels.KernelsApiService/SaveKernel",
        timeout=30,
        json={
            "slug": "testuser/print-only",
            "newTitle": "Print only",
            "text": "print('hello')",
            "language": "python",
            "kernelType": "script",
        },
    )
    assert r.json()["versionNumber"] == n, r.text
    while True:
        st = session.post(
            f"{url}/v1/kernels.KernelsApiService/GetKernelSessionStatus",
            timeout=30,
            json={"userName": "testuser", "kernelSlug": "print-only", "versionLabel": f"v{n}"},
        ).json()
        if st.get("status") in ("COMPLETE", "ERROR"):
            assert st["status"] == "COMPLETE", st
            return time.perf_counter() - t0
        time.sleep(0.01)


def bare_python() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-u", "-c", "print('hello')"], check=True, capture_output=True)
    return time.perf_counter() - t0


def calls_per_second(session: requests.Session, url: str, body: dict, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        session.post(url, json=body, timeout=30).raise_for_status()
    return calls / (time.perf_counter() - t0)


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as the emulator does, so the comparison is fair

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def run(quick: bool = False) -> list[Row]:
    runs, calls = (3, 300) if quick else (RUNS, CALLS)
    state = Path(tempfile.mkdtemp(prefix="kr-bench-")) / "state"
    init_state(state)
    creds = json.loads((state / "kaggle.json").read_text())
    with Emulator(state) as em:
        s = requests.Session()
        s.auth = (creds["username"], creds["key"])
        save_to_complete(s, em.url, 1)  # warm-up
        roundtrips = [save_to_complete(s, em.url, n) for n in range(2, runs + 2)]
        status_rps = calls_per_second(
            s,
            f"{em.url}/v1/kernels.KernelsApiService/GetKernelSessionStatus",
            {"userName": "testuser", "kernelSlug": "print-only"},
            calls,
        )
    floors = [bare_python() for _ in range(runs)]
    echo = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    echo_rps = calls_per_second(requests.Session(), f"http://127.0.0.1:{echo.server_address[1]}/", {}, calls)
    echo.shutdown()
    shutil.rmtree(state.parent, ignore_errors=True)
    rt, floor = statistics.median(roundtrips), statistics.median(floors)
    cmd = "python bench/emulator_roundtrip.py"
    return [
        Row(
            f"emulator: SaveKernel -> COMPLETE, print-only kernel (median of {runs})",
            f"{rt:.3f} s",
            f"{floor:.3f} s (bare `python -c print`)",
            f"{rt / floor:.1f}x the time",
            "at most 15x the bare process",
            rt / floor <= 15,
            cmd,
        ),
        Row(
            f"emulator: GetKernelSessionStatus calls/s ({calls}, one client)",
            f"{status_rps:.0f}/s",
            f"{echo_rps:.0f}/s (stdlib server answering {{}})",
            f"{status_rps / echo_rps:.2f}x the rate",
            "at least 0.5x the bare server",
            status_rps / echo_rps >= 0.5,
            cmd,
        ),
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
