"""`make demo`: start a local Kaggle and run one iteration of the loop on kernels/smoke, printing what a user sees.
kr pushes, waits, shows the log and pulls; the official `kaggle` CLI submits until `kr submit` exists."""

from __future__ import annotations

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


def run(args: list[str], env: dict[str, str], show: bool = True, cwd: Path = ROOT) -> str:
    if show:
        print(f"$ {' '.join(shlex.quote(a) for a in args)}", flush=True)
    r = subprocess.run([str(BIN / args[0]), *args[1:]], env=env, capture_output=True, text=True, cwd=cwd)
    if r.returncode != 0:
        sys.exit(f"demo: `{' '.join(args)}` failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    shown = (r.stderr if args[0] == "kr" else "") + r.stdout  # kr's progress is on stderr; kaggle's is a bar
    if show and shown.strip():
        print(shown.rstrip(), flush=True)
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

        project = work / "project"
        shutil.copytree(ROOT / "kernels" / "smoke", project / "kernels" / "smoke")
        (project / "kr.yaml").write_text(
            "competition: tiny-toxic\nkernels:\n  smoke:\n    folder: kernels/smoke\n    entry: main.py\n"
            "    title: Smoke\n    accelerator: cpu\n")
        kr_env = {**env, "KR_KAGGLE_URL": url, "KAGGLE_CONFIG_DIR": str(state), "KR_POLL_SECONDS": "0.5"}
        kr_env.pop("HTTP_PROXY")
        print(f"project {project}: kr.yaml names kernels/smoke; kr reaches the emulator with KR_KAGGLE_URL={url}")

        say("2. Push the smoke kernel (recorded in the ledger as v1)")
        run(["kr", "push", "-m", "smoke baseline"], kr_env, cwd=project)

        say("3. Wait for it (outputs are pulled on COMPLETE)")
        run(["kr", "wait", "v1"], kr_env, cwd=project)

        say("4. Its log, its status for scripts, and the pulled files")
        run(["kr", "logs", "v1"], kr_env, cwd=project)
        run(["kr", "status", "v1", "--json"], kr_env, cwd=project)
        outdir = project / ".kr" / "runs" / "v1"
        print("$ ls .kr/runs/v1\n" + "  ".join(sorted(p.name for p in outdir.iterdir())))

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
