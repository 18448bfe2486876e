"""`make demo-team`: a local Kaggle and a local MLflow tracking server, two members (testuser and alice) running
their own loops into one team experiment, a merge of alice's run with testuser's submitted, and `kr ls --team`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo import BIN, ROOT, run, say  # noqa: E402

FAKE_KEY = "0" * 32  # alice's key on the local Kaggle: a test value, like every credential here


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _up(url: str, proc: subprocess.Popen, what: str) -> None:
    import requests

    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.3)
    sys.exit(f"demo-team: {what} did not start")


def _project(folder: Path, tracking: dict[str, str], lr: str) -> Path:
    shutil.copytree(ROOT / "kernels" / "smoke", folder / "kernels" / "smoke")
    main_py = folder / "kernels" / "smoke" / "main.py"
    main_py.write_text(main_py.read_text().replace("LR = 1e-2", f"LR = {lr}"))
    (folder / "kr.yaml").write_text(
        "competition: tiny-toxic\nkernels:\n  smoke:\n    folder: kernels/smoke\n    title: Smoke\n"
        f"code: {{}}\ntracking: {json.dumps(tracking)}  # the team's MLflow server\n"
    )
    return folder


def main(after: Callable[[str], None] | None = None) -> None:
    """The demo; `after`, if given, is called with the experiment's URL while both servers still run."""
    work = Path(tempfile.mkdtemp(prefix="kr-demo-team-"))
    state = work / "state"
    say("1. A local Kaggle with two users, testuser and alice, and a team MLflow server (SQLite backend)")
    run(["kr", "emulator", "init", str(state)], dict(os.environ), show=False)
    cfg = json.loads((state / "config.json").read_text())
    cfg["users"].append({"username": "alice", "key": FAKE_KEY, "id": 2, "tokens": []})
    (state / "config.json").write_text(json.dumps(cfg))
    servers = []
    try:
        kaggle = subprocess.Popen(
            [str(BIN / "kr"), "emulator", "serve", "--state", str(state), "--port", "0"],
            stdout=subprocess.PIPE, stderr=open(work / "emulator.log", "w"), text=True,
        )  # fmt: skip
        servers.append(kaggle)
        url = kaggle.stdout.readline().strip()
        port = _port()
        db, artifacts = work / "mlflow.db", work / "mlflow-artifacts"
        mlflow_cmd = [
            str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{db}", "--artifacts-destination", str(artifacts),
        ]  # fmt: skip
        print("$ " + " ".join(mlflow_cmd[1:]))
        mlflow = subprocess.Popen(mlflow_cmd, stdout=open(work / "mlflow.log", "w"), stderr=subprocess.STDOUT)
        servers.append(mlflow)
        tracking_url = f"http://127.0.0.1:{port}"
        _up(f"{tracking_url}/health", mlflow, "the MLflow server")
        print(f"Kaggle emulator on {url}, MLflow on {tracking_url}")

        tracking = {"mlflow": tracking_url, "experiment": "tiny-toxic-team"}
        base = {k: v for k, v in os.environ.items() if not k.startswith(("KAGGLE_", "MLFLOW_"))}
        base.update(KR_KAGGLE_URL=url, KR_POLL_SECONDS="0.5")
        me = {**base, "KAGGLE_CONFIG_DIR": str(state)}
        alice = {**base, "KAGGLE_USERNAME": "alice", "KAGGLE_KEY": FAKE_KEY}
        mine = _project(work / "testuser", tracking, "1e-2")
        hers = _project(work / "alice", tracking, "2e-2")

        say("2. Each member runs their own loop; `kr wait` and `kr submit` share each step with the team")
        run(["kr", "push", "-m", "lr 1e-2", "--wait"], me, cwd=mine)
        run(["kr", "submit", "v1", "--wait"], me, cwd=mine)
        print("(alice, in her own project)")
        run(["kr", "push", "-m", "lr 2e-2", "--wait"], alice, cwd=hers)
        run(["kr", "submit", "v1", "--wait"], alice, cwd=hers)
        run(["kr", "note", "v1", "higher lr, same AUC"], alice, cwd=hers)

        say("3. testuser sees the whole team, compares with alice's run, merges it with their own and submits")
        run(["kr", "ls", "--team"], me, cwd=mine)
        run(["kr", "compare", "alice/v1", "v1"], me, cwd=mine)
        run(["kr", "merge", "alice/v1", "v1", "--method", "rank", "-o", "submission.csv"], me, cwd=mine)
        run(["kr", "submit", "m1", "-m", "alice/v1 + v1", "--wait"], me, cwd=mine)

        say("4. alice sees the merge of her run, with its score; `kr sync` has nothing left to send")
        run(["kr", "ls", "--team"], alice, cwd=hers)
        run(["kr", "sync"], alice, cwd=hers)
        experiment = json.loads(run(["kr", "sync", "--json"], me, cwd=mine, show=False))["url"]
        if after is not None:
            after(experiment)
        say(f"Done. The team's experiment: {experiment}")
        print(
            f"Serve it again with: mlflow server --backend-store-uri sqlite:///{db} --artifacts-destination {artifacts}"
        )
    finally:
        for s in servers:
            s.terminate()
            s.wait(timeout=30)


if __name__ == "__main__":
    main()
