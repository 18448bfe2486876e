"""`make demo`: start a local Kaggle and run the whole loop on kernels/smoke, printing what a user sees:
two versions pushed and waited for, both submitted, merged, the merge submitted, and `kr ls` with three scores.
`--accel tpu` (`make demo-tpu`, run from .venv-xla): one push to a TPU, trained on XLA's CPU device, and submitted."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
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


def tpu_story(project: Path, kr_env: dict[str, str]) -> None:
    """The smoke kernel pushed with --accel tpu: the emulator's kernels' Python has torch_xla, so the session runs
    the runtime's TPU path on XLA's CPU device, and fit's compile line comes back as metrics."""
    say("2. Push the smoke kernel to a TPU (v1) and wait: the emulator runs it on XLA (PJRT_DEVICE=CPU)")
    run(["kr", "push", "--accel", "tpu", "-m", "on XLA", "--wait"], kr_env, cwd=project)
    say("3. Its log: XLA named, the metric lines, and the compile line")
    run(["kr", "logs", "v1"], kr_env, cwd=project)
    say("4. What kr read: validation AUC and xla.compilations / xla.compile_seconds")
    run(["kr", "show", "v1"], kr_env, cwd=project)
    say("5. Submit it")
    run(["kr", "submit", "v1", "--wait"], kr_env, cwd=project)
    run(["kr", "ls"], kr_env, cwd=project)


def main() -> None:
    accel = sys.argv[sys.argv.index("--accel") + 1] if "--accel" in sys.argv else "cpu"
    work = Path(tempfile.mkdtemp(prefix="kr-demo-"))
    state = work / "state"
    say("1. A local Kaggle: kr emulator serve (user testuser, competition tiny-toxic)")
    server_log = open(work / "emulator.log", "w")
    server = subprocess.Popen(
        [str(BIN / "kr"), "emulator", "serve", "--state", str(state), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=server_log,
        text=True,
    )
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
            "    title: Smoke\n    accelerator: cpu\n"
            "code: {}  # the code bundle: kaggle_runner.runtime, for the kernel\n"
        )
        kr_env = {**env, "KR_KAGGLE_URL": url, "KAGGLE_CONFIG_DIR": str(state), "KR_POLL_SECONDS": "0.5"}
        kr_env.pop("HTTP_PROXY")
        print(f"project {project}: kr.yaml names kernels/smoke; kr reaches the emulator with KR_KAGGLE_URL={url}")
        if accel == "tpu":
            tpu_story(project, kr_env)
            return

        say("2. Push the smoke kernel (v1), then a changed learning rate (v2), like an experiment loop")
        run(["kr", "push", "-m", "baseline lr 1e-2"], kr_env, cwd=project)
        main_py = project / "kernels" / "smoke" / "main.py"
        main_py.write_text(main_py.read_text().replace("LR = 1e-2", "LR = 2e-2"))
        print("$ sed -i 's/LR = 1e-2/LR = 2e-2/' kernels/smoke/main.py")
        run(["kr", "push", "-m", "lr 2e-2"], kr_env, cwd=project)

        say("3. Wait for both (outputs and metrics are pulled on COMPLETE)")
        run(["kr", "wait", "v1"], kr_env, cwd=project)
        run(["kr", "wait", "v2"], kr_env, cwd=project)

        say("4. The metrics kr read from v2's log, and what changed since v1")
        run(["kr", "logs", "v2", "--metrics"], kr_env, cwd=project)
        run(["kr", "compare", "v1", "v2"], kr_env, cwd=project)

        say("5. Submit both (checked against sample_submission.csv first) and wait for the public scores")
        run(["kr", "submit", "v1", "--wait"], kr_env, cwd=project)
        run(["kr", "submit", "v2", "--wait"], kr_env, cwd=project)

        say("6. Merge them (rank average, aligned on id) and submit the merge")
        run(["kr", "merge", "v1", "v2", "--method", "rank", "-o", "submission.csv"], kr_env, cwd=project)
        run(["kr", "submit", "m1", "-m", "rank v1+v2", "--wait"], kr_env, cwd=project)

        say("7. The ledger: every run and merge with its validation metric and public score")
        run(["kr", "ls"], kr_env, cwd=project)
        run(["kr", "note", "m1", "rank merge of lr 1e-2 and 2e-2"], kr_env, cwd=project, show=False)
        run(["kr", "plot", "--scores", "-o", str(work / "lb.png")], kr_env, cwd=project)
        say(f"Done. The emulator's state is in {state}; serve it again with: kr emulator serve --state {state}")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
