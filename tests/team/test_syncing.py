"""kr sync against a real MLflow server: what one run costs in requests, a sync cut off at any point finished by
the next with every run once and every point once, no credential in anything that reaches the server, and a
server that does not answer being a warning for the commands that share and an error for `kr sync`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from helpers import CutProxy, Kr, write_project
from kaggle_runner import layout
from kaggle_runner.ledger.db import open_ledger

KAGGLE_KEY = "0" * 31 + "1"
HF_TOKEN = "hf_" + "0" * 34


def _project(root: Path, url: str, experiment: str, runs: int = 3, epochs: int = 4) -> Path:
    """A project whose ledger holds `runs` pulled runs (a log, a submission, `epochs` epochs of three series, a
    scored submission each) and one merge, as `kr pull`/`submit`/`merge` leave them."""
    params = {"lr": 0.01, "hf_token": HF_TOKEN}
    write_project(root, owner="testuser", params=params, tracking={"mlflow": url, "experiment": experiment})
    ledger = open_ledger(root)
    config = {"competition": "tiny-toxic", "params": {"lr": 0.01, "hf_token": HF_TOKEN}}
    for v in range(1, runs + 1):
        rid = ledger.begin_push(
            "main", "testuser/main", "gpu", "", f"try {v}", "0" * 40, False, config, {}, {"lr": v, "hf_token": HF_TOKEN}
        )
        ledger.finish_push(rid, v)
        ledger.set_status(rid, "COMPLETE")
        folder = layout.run_dir(root, "main", v, "main")
        folder.mkdir(parents=True)
        (folder / "submission.csv").write_text(f"id,toxic\n1,0.{v}\n2,0.{v + 1}\n")
        (folder / "main.log").write_text(f"epoch 1 auc 0.9\nKAGGLE_KEY={KAGGLE_KEY}\n")  # a kernel that printed it
        points = [
            {"name": n, "split": "validation", "epoch": e, "value": e / 100 + v, "line": e}
            for e in range(epochs)
            for n in ("auc", "loss", "f1")
        ]
        ledger.record_metrics(rid, points)
        sub = folder / "submission.csv"
        ledger.record_files(rid, [("submission.csv", layout.sha256_file(sub), sub.stat().st_size)])
        ledger.record_submission("tiny-toxic", 100 + v, run_id=rid, status="COMPLETE", public_score=f"0.9{v}",
                                 date="2026-12-01T10:00:00Z")  # fmt: skip
    merged = layout.merge_file(root, 1)
    merged.parent.mkdir(parents=True)
    merged.write_text("id,toxic\n1,0.5\n2,0.6\n")
    ledger.add_merge("mean", None, None, "id", [{"source": "v1", "path": "x", "sha256": "0" * 64}], str(merged),
                     layout.sha256_file(merged), 2, {})  # fmt: skip
    ledger.close()
    return root


def _kr(project: Path, *args: str, home: Path, check: int | None = 0, **env: str) -> subprocess.CompletedProcess:
    (home / ".kaggle").mkdir(parents=True, exist_ok=True)
    (home / ".kaggle" / "kaggle.json").write_text(json.dumps({"username": "testuser", "key": KAGGLE_KEY}))
    quick = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "120"}  # a cut is seen at once
    return Kr(project, home)(*args, check=check, env={**quick, **env})


def _server_runs(url: str, experiment: str) -> list[Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(url)
    exp = client.get_experiment_by_name(experiment)
    return list(client.search_runs([exp.experiment_id])) if exp else []


@pytest.fixture
def proxy(mlflow_server: str) -> Any:
    p = CutProxy(mlflow_server)
    yield p
    p.close()


def test_a_run_of_100_epochs_is_a_handful_of_requests(proxy: CutProxy, tmp_path: Path, mlflow_server: str) -> None:
    project = _project(tmp_path / "p", proxy.url, "hundred-epochs", runs=1, epochs=100)
    info = json.loads(_kr(project, "sync", "--json", home=tmp_path / "h").stdout)
    assert info["sent"] == 2  # v1 and m1
    # open the experiment (2: lookup, create), search for cut-off runs, then per item: create, one batch, files, end
    assert proxy.count <= 16, proxy.count
    (run,) = [r for r in _server_runs(mlflow_server, "hundred-epochs") if r.data.tags["kr.kind"] == "run"]
    from mlflow.tracking import MlflowClient

    history = MlflowClient(mlflow_server).get_metric_history(run.info.run_id, "validation.auc")
    assert [h.step for h in history] == list(range(100))
    proxy.stop_after(None)
    assert json.loads(_kr(project, "sync", "--json", home=tmp_path / "h").stdout)["sent"] == 0
    assert proxy.count <= 2  # nothing changed: the experiment looked up, nothing sent


@pytest.mark.parametrize("cut", [3, 7, 12, 20])
@pytest.mark.parametrize("lose_reply", [False, True], ids=["refused", "reply-lost"])
def test_a_sync_cut_off_is_finished_next_time_with_every_run_once(
    proxy: CutProxy, tmp_path: Path, mlflow_server: str, cut: int, lose_reply: bool
) -> None:
    experiment = f"cut-{cut}-{lose_reply}"
    project = _project(tmp_path / "p", proxy.url, experiment)
    proxy.stop_after(cut, lose_reply)  # the server "stops" after `cut` requests
    r = _kr(project, "sync", home=tmp_path / "h", check=None)
    assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "not answering" in r.stderr and "kr sync" in r.stderr
    proxy.stop_after(None)  # and is started again
    _kr(project, "sync", home=tmp_path / "h")
    runs = _server_runs(mlflow_server, experiment)
    assert sorted(r.data.tags["kr.label"] for r in runs) == ["m1", "v1", "v2", "v3"]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(mlflow_server)
    for run in runs:
        if run.data.tags["kr.kind"] == "run":
            assert len(client.get_metric_history(run.info.run_id, "validation.loss")) == 4
            assert len(client.get_metric_history(run.info.run_id, "public_score")) == 1
            assert run.info.status == "FINISHED"
            names = {a.path for a in client.list_artifacts(run.info.run_id, "outputs")}
            assert names == {"outputs/submission.csv"}
    again = json.loads(_kr(project, "sync", "--json", home=tmp_path / "h").stdout)
    assert again["sent"] == 0 and again["unchanged"] == 4


def test_nothing_secret_reaches_the_server(proxy: CutProxy, tmp_path: Path, mlflow_server: str) -> None:
    project = _project(tmp_path / "p", proxy.url, "secrets")
    password = "mlflow-pass-" + "0" * 20
    _kr(project, "sync", home=tmp_path / "h", MLFLOW_TRACKING_USERNAME="testuser", MLFLOW_TRACKING_PASSWORD=password)
    sent = b"".join(proxy.bodies)
    assert b"validation.auc" in sent and b"0.91" in sent  # the scan sees what was sent
    for secret in (KAGGLE_KEY, HF_TOKEN, password):
        assert secret.encode() not in sent, secret
    (run,) = [r for r in _server_runs(mlflow_server, "secrets") if r.data.tags["kr.label"] == "v1"]
    assert run.data.params["kr.yaml.params.hf_token"] == "[redacted]" and run.data.params["lr"] == "1"
    assert run.data.params["hf_token"] == "[redacted]"


def test_an_unreachable_server_is_a_warning_for_note_and_an_error_for_sync(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    project = _project(tmp_path / "p", closed, "nowhere", runs=1)
    r = _kr(project, "note", "v1", "smooth 0.05", home=tmp_path / "h")
    assert "noted on v1" in r.stdout
    assert len(r.stderr.strip().splitlines()) == 1 and "kr sync" in r.stderr, r.stderr
    r = _kr(project, "sync", home=tmp_path / "h", check=2)
    assert len(r.stderr.strip().splitlines()) == 1 and "not answering" in r.stderr, r.stderr
    rows = json.loads(_kr(project, "ls", "--json", home=tmp_path / "h").stdout)
    assert rows[0]["notes"] == ["smooth 0.05"]  # nothing recorded was lost


def test_kr_ls_does_not_load_mlflow(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", "http://127.0.0.1:9", "x", runs=1)
    r = _kr(project, "ls", home=tmp_path / "h", PYTHONPROFILEIMPORTTIME="1")
    assert "kaggle_runner.ledger.reports" in r.stderr and "mlflow" not in r.stderr


def test_the_server_killed_mid_sync_then_restarted_ends_with_every_run_once(tmp_path: Path) -> None:
    """The real thing, beside the proxy's exact cuts: `mlflow server` killed (SIGKILL) while a sync of 40 runs is
    under way, started again on the same database, and the next sync completes it."""
    import signal
    import time

    from helpers import start_mlflow, stop_mlflow

    (tmp_path / "srv").mkdir()
    server, url = start_mlflow(tmp_path / "srv")
    port = int(url.rsplit(":", 1)[1])
    try:
        project = _project(tmp_path / "p", url, "killed", runs=40)
        sync = Kr(project, tmp_path / "h").start("sync", env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})
        deadline = time.time() + 60
        while len(_server_runs(url, "killed")) < 3 and time.time() < deadline:
            time.sleep(0.05)
        stop_mlflow(server, signal.SIGKILL)
        _, err = sync.communicate(timeout=120)
        assert sync.returncode != 0 and "not answering" in err, err  # it was cut off, with one line
        server, url = start_mlflow(tmp_path / "srv", port)
        _kr(project, "sync", home=tmp_path / "h")
        labels = sorted(r.data.tags["kr.label"] for r in _server_runs(url, "killed"))
        assert labels == sorted(["m1", *(f"v{n}" for n in range(1, 41))])
    finally:
        stop_mlflow(server)


def test_team_references_that_cannot_be_served_are_one_line(tmp_path: Path, mlflow_server: str) -> None:
    project = _project(tmp_path / "p", mlflow_server, "refs", runs=1)
    home = tmp_path / "h"
    _kr(project, "sync", home=home)
    for args, says in (
        (["merge", "alice/v1", "v1", "-o", "x.csv"], "alice/v1: not on the team's server (nothing from alice yet"),
        (["compare", "testuser/v9", "v1"], "testuser/v9: not on the team's server (testuser has sent: m1, v1)"),
    ):
        r = _kr(project, *args, home=home, check=2)
        assert r.stderr.strip().splitlines() == [f"kr: error: {says}; they run `kr sync`)"] or says in r.stderr, (
            r.stderr
        )
        assert len(r.stderr.strip().splitlines()) == 1
    r = _kr(project, "ls", "--team", "--sort", "public", home=home, check=2)
    assert "--sort, --sweep and --params are for this project's ledger" in r.stderr
    (project / "kr.yaml").write_text((project / "kr.yaml").read_text().split("tracking:")[0])
    r = _kr(project, "ls", "--team", home=home, check=2)
    assert "no team tracking server: add `tracking: {mlflow: http://HOST:5000}`" in r.stderr
    assert len(json.loads(_kr(project, "ls", "--json", home=home).stdout)) == 2  # the local ledger is untouched


def test_a_credential_is_redacted_in_any_case_and_encoding() -> None:
    import base64
    from urllib.parse import quote

    from kaggle_runner.team.syncing import redact

    key = "s3cr3t/K3y+with=signs-0123456789"
    printed = [key.upper(), base64.b64encode(key.encode()).decode(), quote(key, safe=""), key]
    out = redact("\n".join(f"line {p} end" for p in printed), [key])
    assert out.count("[redacted]") == 4 and "0123456789" not in out.upper(), out
    assert out.splitlines()[0] == "line [redacted] end"


def test_a_key_cut_across_two_log_events_is_redacted_in_both() -> None:
    """Kaggle's log cuts a line over 64 KiB into several events: the key's halves sat in two of them."""
    from kaggle_runner.team.syncing import redact_log

    key = "abcdef0123456789abcdef0123456789"
    events = [
        {"stream_name": "stdout", "time": 1.0, "data": "token=" + key[:16]},
        {"stream_name": "stdout", "time": 1.0, "data": key[16:] + " done\n"},
        {"stream_name": "stderr", "time": 2.0, "data": "nothing secret\n"},
    ]
    out = json.loads(redact_log(json.dumps(events), [key]))
    assert [e["data"] for e in out] == ["token=[redacted]", "[redacted] done\n", "nothing secret\n"]
    assert [e["stream_name"] for e in out] == ["stdout", "stdout", "stderr"]
    assert redact_log("plain text with " + key.upper(), [key]) == "plain text with [redacted]"
    clean = '[{"stream_name":"stdout","time":1.0,"data":"epoch 1\\n"}]'  # Kaggle's compact layout
    assert redact_log(clean, [key]) == clean  # nothing secret: the log goes byte for byte as Kaggle wrote it


def test_an_output_gone_from_disk_is_named_and_the_rest_is_sent(tmp_path: Path, mlflow_server: str) -> None:
    """A deleted output made every `kr sync` fail at the same file, saying the server was not answering."""
    project = _project(tmp_path / "p", mlflow_server, "gone", runs=2)
    (layout.run_dir(project, "main", 2, "main") / "submission.csv").unlink()
    r = _kr(project, "sync", "--json", home=tmp_path / "h")
    info = json.loads(r.stdout)
    assert info["sent"] == 3 and len(info["skipped"]) == 1 and "outputs/submission.csv" in info["skipped"][0]
    assert "not sent: testuser/v2: outputs/submission.csv: No such file or directory" in r.stderr
    runs = {run.data.tags["kr.label"]: run for run in _server_runs(mlflow_server, "gone")}
    assert set(runs) == {"v1", "v2", "m1"} and runs["v2"].data.params["lr"] == "2"
    again = json.loads(_kr(project, "sync", "--json", home=tmp_path / "h").stdout)  # tried again, not stuck
    assert again["unchanged"] == 2 and again["sent"] == 1 and len(again["skipped"]) == 1
