"""`make demo`: start a local Kaggle and run one iteration of the loop on kernels/smoke, printing what a user sees.
Today the loop is driven by the official `kaggle` CLI against `kr emulator serve`; `kr push/wait/...` replace it next."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def say(text: str) -> None:
    print(f"\n\033[1m{text}\033[0m", flush=True)


def run(args: list[str], env: dict[str, str], show: bool = True) -> str:
    if show:
        print(f"$ {' '.join(shlex.quote(a) for a in args)}", flush=True)
    r = subprocess.run([str(BIN / args[0]), *args[1:]], env=env, capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        sys.exit(f"demo: `{' '.join(args)}` failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    if show and r.stdout.strip():
        print(r.stdout.rstrip(), flush=True)
    return r.stdout


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="kr-demo-"))
    state = work / "state"
    say("1. A local Kaggle: kr emulator serve (user testuser, competition tiny-toxic)")
    server_log = open(work / "emulator.log", "w")
    server = subprocess.Popen([str(BIN / "kr"), "emulator", "serve", "--state", str(state), "--port", "0"],
                              stdout=subprocess.PIPE, stderr=server_log, text=True)
    try:
        url = server.stdout.readline().strip()
        if not url.startswith("http"):
            sys.exit("demo: the emulator did not start")
        print(f"emulator listening on {url}")
        home = work / "home"
        (home / ".kaggle").mkdir(parents=True)
        shutil.copy(state / "kaggle.json", home / ".kaggle" / "kaggle.json")
        (home / ".kaggle" / "kaggle.json").chmod(0o600)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE_")}
        env.update(HOME=str(home), KAGGLE_API_ENVIRONMENT="LOCALHOST", HTTP_PROXY=url, NO_PROXY="")
        print("the official kaggle CLI reaches it with KAGGLE_API_ENVIRONMENT=LOCALHOST HTTP_PROXY=" + url)

        say("2. Push the smoke kernel")
        run(["kaggle", "kernels", "push", "-p", "kernels/smoke"], env)

        say("3. Wait for it")
        started = time.time()
        while True:
            out = run(["kaggle", "kernels", "status", "testuser/smoke"], env, show=False).strip()
            if "COMPLETE" in out or "ERROR" in out:
                break
            time.sleep(0.5)
        print(f"{out}   ({time.time() - started:.1f} s)")
        if "ERROR" in out:
            sys.exit("demo: the smoke kernel failed")

        say("4. Pull its outputs and log")
        outdir = work / "output"
        run(["kaggle", "kernels", "output", "testuser/smoke", "-p", str(outdir)], env)
        events = json.loads((outdir / "smoke.log").read_text())
        print("".join(e["data"] for e in events).rstrip())

        say("5. Submit submission.csv and read the public score")
        run(["kaggle", "competitions", "submit", "-c", "tiny-toxic", "-f", str(outdir / "submission.csv"),
             "-m", "smoke kernel v1"], env)
        print()
        for _ in range(40):
            listing = run(["kaggle", "competitions", "submissions", "tiny-toxic"], env, show=False)
            if "PENDING" not in listing:
                break
            time.sleep(0.25)
        print("$ kaggle competitions submissions tiny-toxic")
        print(listing.rstrip())
        say(f"Done. The emulator's state is in {state}; serve it again with: kr emulator serve --state {state}")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
