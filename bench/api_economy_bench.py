"""Benchmark: requests made to follow one kernel run to its outputs. `kr push --wait` (which pulls) against the
loop people script around the official CLI: `kaggle kernels status` every 10 s, then `kaggle kernels output`.
The kernel runs 5 minutes of emulated time: everything (run length, poll intervals) is scaled down by SCALE."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Local, Row  # noqa: E402

BIN = Path(sys.executable).parent
RUN_SECONDS = 300


def _ended(local: Local, slug: str, version: int) -> float:
    return local.em.store.state["kernels"][f"{local.user}/{slug}"]["versions"][version - 1]["ended"]


def run(quick: bool = False) -> list[Row]:
    scale = 20 if quick else 10  # the official CLI takes ~0.4 s to start: a poll every 10 s / scale must exceed that
    kernel = (
        f"import time\ntime.sleep({RUN_SECONDS / scale})\nopen('submission.csv', 'w').write('id,target\\n1,0.5\\n')\n"
    )
    local = Local()
    try:
        root = local.work / "proj"
        (root / "k").mkdir(parents=True)
        (root / "k" / "main.py").write_text(kernel)
        (root / "kr.yaml").write_text(
            "kernels:\n  main: {folder: k, entry: main.py, slug: economy, title: Api Economy}\n"
        )
        env = {**local.kr_env, "KR_POLL_SECONDS": str(5 / scale)}
        mark = local.mark()
        subprocess.run([str(BIN / "kr"), "push", "--wait"], cwd=root, env=env, check=True, capture_output=True)
        kr_requests = local.since(mark)
        if "-v" in sys.argv:
            print([e["route"] for e in kr_requests])
        kr_late = max(e["time"] for e in kr_requests if "GetKernelSessionStatus" in e["route"]) - _ended(
            local, "economy", 1
        )

        # the hand-written loop: push with kr's help is not the point, so the same kernel is pushed again by kr
        subprocess.run([str(BIN / "kr"), "push"], cwd=root, env=env, check=True, capture_output=True)
        mark = local.mark()
        ref = f"{local.user}/economy"
        while True:
            started = time.time()
            out = subprocess.run(
                [str(BIN / "kaggle"), "kernels", "status", ref],
                env=local.kaggle_env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            if "COMPLETE" in out or "ERROR" in out:
                break
            time.sleep(max(0.0, 10 / scale - (time.time() - started)))
        subprocess.run(
            [str(BIN / "kaggle"), "kernels", "output", ref, "-p", str(local.work / "out")],
            env=local.kaggle_env,
            check=True,
            capture_output=True,
        )
        loop_requests = local.since(mark)
        loop_late = max(e["time"] for e in loop_requests if "GetKernelSessionStatus" in e["route"]) - _ended(
            local, "economy", 2
        )
    finally:
        local.close()
    kr_n, loop_n = len(kr_requests), len(loop_requests)
    cmd = "python bench/api_economy_bench.py"
    return [
        Row(
            f"API requests to follow a {RUN_SECONDS // 60}-minute run to its outputs (time scaled 1/{scale})",
            f"{kr_n} (kr push --wait, incl. the push)",
            f"{loop_n} (kaggle kernels status every 10 s + output)",
            f"{kr_n / loop_n:.2f}x the requests",
            "fewer requests",
            kr_n < loop_n,
            cmd,
        ),
        Row(
            "how late the end of the run is noticed (emulated seconds)",
            f"{kr_late * scale:.0f} s",
            f"{loop_late * scale:.0f} s",
            f"{kr_late * scale / RUN_SECONDS:.2f}x the run's length",
            "at most 0.2x the run's length",
            kr_late * scale <= 0.2 * RUN_SECONDS,
            cmd,
        ),
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
