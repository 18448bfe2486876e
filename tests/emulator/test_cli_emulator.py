"""`kr emulator init` and `kr emulator serve`, run as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import requests

from helpers import KR
from kaggle_runner.emulator.seed import init_state


def _serve(folder: Path) -> tuple[subprocess.Popen, str]:
    """`kr emulator serve --state st --port 0` started in `folder`, and the URL it prints first."""
    proc = subprocess.Popen(
        [*KR, "emulator", "serve", "--state", "st", "--port", "0"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def test_init_writes_credentials_and_a_competition(tmp_path: Path) -> None:
    r = subprocess.run([*KR, "emulator", "init", str(tmp_path / "st")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    creds = json.loads((tmp_path / "st" / "kaggle.json").read_text())
    assert creds["username"] == "testuser" and len(creds["key"]) == 32
    assert (tmp_path / "st" / "kaggle.json").stat().st_mode & 0o077 == 0
    data = tmp_path / "st" / "competitions" / "tiny-toxic" / "data"
    assert sorted(p.name for p in data.iterdir()) == ["sample_submission.csv", "test.csv", "train.csv"]
    again = subprocess.run([*KR, "emulator", "init", str(tmp_path / "st")], capture_output=True, text=True, timeout=60)
    assert again.returncode != 0
    assert again.stderr.strip().count("\n") == 0 and "already holds an emulator state" in again.stderr
    assert "Traceback" not in again.stderr


def test_serve_on_port_zero_prints_its_url_first_and_stops_cleanly(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*KR, "emulator", "serve", "--state", str(tmp_path / "st"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(f"{url}/_emulator/health", timeout=10).json()["ok"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    assert (tmp_path / "st" / "kaggle.json").exists()  # a missing state folder is initialised


def test_serve_says_how_to_use_it_from_any_folder_and_suggests_port_0_when_taken(tmp_path: Path) -> None:
    import socket

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        cmd = [*KR, "emulator", "serve", "--state", str(tmp_path / "st"), "--port", str(port)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    finally:
        busy.close()
    assert r.returncode != 0 and r.stderr.splitlines()[-1].startswith(f"kr: error: cannot listen on 127.0.0.1:{port}")
    assert r.stderr.rstrip().endswith("--port 0 picks a free port")
    proc, url = _serve(tmp_path)
    try:
        line = ""
        while "to use it" not in line:
            line = proc.stderr.readline()
        assert (
            line.strip() == f"kr: to use it: export KR_KAGGLE_URL={url} KAGGLE_CONFIG_DIR={(tmp_path / 'st').resolve()}"
        )
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def test_serve_refuses_a_bad_faults_file_in_one_line(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text('[{"route": "*", "fault": "teapot"}]')
    r = subprocess.run(
        [*KR, "emulator", "serve", "--state", str(tmp_path / "st"), "--port", "0", "--faults", str(faults)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "fault must be one of" in r.stderr and "Traceback" not in r.stderr


def test_serve_refuses_a_corrupt_state_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "st").mkdir()
    (tmp_path / "st" / "config.json").write_text("{broken")
    r = subprocess.run(
        [*KR, "emulator", "serve", "--state", str(tmp_path / "st"), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "config.json: not valid JSON" in r.stderr and "Traceback" not in r.stderr


def test_serve_refuses_a_competition_whose_solution_has_no_private_part(tmp_path: Path) -> None:
    """Kaggle scores the public and private parts apart; a solution without one is refused when the state is served,
    not scored on every id at the first submission."""
    st = tmp_path / "st"
    init_state(st)
    solution = st / "competitions/tiny-toxic/solution.csv"
    solution.write_text(solution.read_text().replace("Private", "Public"))
    r = subprocess.run(
        [*KR, "emulator", "serve", "--state", str(st), "--port", "0"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "kr: error: competition tiny-toxic: solution.csv has no Private rows; give a Usage column with Public and "
        "Private"
    ]


def _wheel(folder: Path, name: str) -> Path:
    """A one-module wheel, as the registry would serve it (built here so the test needs no network)."""
    import zipfile

    path = folder / f"{name}-1.0-py3-none-any.whl"
    info = f"{name}-1.0.dist-info"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{name}.py", "ANSWER = 42\n")
        zf.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        zf.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{info}/RECORD", f"{name}.py,,\n{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n")
    return path


def test_env_builds_the_kernels_python_and_serve_runs_kernels_with_it(tmp_path: Path) -> None:
    from helpers import Api

    state = tmp_path / "st"
    subprocess.run([*KR, "emulator", "init", str(state)], check=True, capture_output=True, timeout=60)
    wheel = _wheel(tmp_path, "krtinypkg")
    r = subprocess.run(
        [*KR, "emulator", "env", "--state", str(state), "--packages", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert "kernels' Python ready" in r.stdout and (state / "python" / "bin" / "python").exists()

    proc = subprocess.Popen(
        [*KR, "emulator", "serve", "--state", str(state), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert str(state.resolve() / "python" / "bin" / "python") in proc.stderr.readline()
        c = json.loads((state / "kaggle.json").read_text())
        api = Api(url, c["username"], c["key"])
        api.push("uses-pkg", "import krtinypkg\nprint('answer', krtinypkg.ANSWER)\n")
        assert api.wait("uses-pkg")["status"] == "COMPLETE"
        api.push("lacks-pkg", "import xgboost\n")
        failed = api.wait("lacks-pkg")
        assert failed["status"] == "ERROR"
        assert "no module 'xgboost'" in failed["failureMessage"]
        assert "kr emulator env --packages xgboost" in failed["failureMessage"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def test_env_packages_preset_and_names() -> None:
    from kaggle_runner.emulator.kernel_env import missing_module_hint, packages, requirements

    assert packages("kaggle,polars") == [*requirements("kaggle"), "polars"]
    image = requirements("kaggle")
    assert "torch==2.13.0" in image  # the CPU wheel; a looser pin pulls gigabytes of CUDA
    assert {"pandas==2.2.2", "scikit-learn==1.6.1", "xgboost==3.2.0", "seaborn==0.13.2"} <= set(image)
    assert requirements("tpu")[:2] == ["torch==2.8.0", "torch_xla==2.8.0"]  # Kaggle's TPU recipe
    hint = missing_module_hint("Traceback ...\nModuleNotFoundError: No module named 'sklearn.metrics'\n")
    assert hint is not None and "--packages scikit-learn" in hint


def test_env_refuses_an_unknown_stack(tmp_path: Path) -> None:
    r = subprocess.run(
        [*KR, "emulator", "env", "--state", str(tmp_path), "--stack", "jax"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0 and r.stderr.strip().splitlines()[-1].endswith("use one of kaggle, tpu")
    assert not (tmp_path / "python").exists()


def test_serve_with_a_relative_state_runs_kernels_with_its_python(tmp_path: Path) -> None:
    """The default `--state .emulator` is relative; the kernels' Python inside it must still start in the sandbox,
    which runs kernels from another folder."""
    from helpers import Api

    subprocess.run([*KR, "emulator", "init", "st"], cwd=tmp_path, check=True, capture_output=True, timeout=60)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "st/python"], cwd=tmp_path, check=True, timeout=120)
    proc, url = _serve(tmp_path)
    try:
        assert url.startswith("http"), proc.stderr.read()
        assert str(tmp_path / "st" / "python" / "bin" / "python") in proc.stderr.readline()
        c = json.loads((tmp_path / "st" / "kaggle.json").read_text())
        api = Api(url, c["username"], c["key"])
        api.push("hello", "import sys\nprint('prefix', sys.prefix)\n", enableInternet=False)
        assert api.wait("hello")["status"] == "COMPLETE", api.status("hello")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
