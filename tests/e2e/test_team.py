"""End to end, a team's ledger: two members (two projects, two ledgers, two Kaggle users) sync into one real MLflow
server, each sees the other's runs, one merges a teammate's submission with their own and submits it; MLflow's own
client reads back what kr wrote."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from helpers import write_project
from kaggle_runner.emulator.seed import init_state

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
ALICE_KEY = "0" * 32


def _project(folder: Path, tracking: dict[str, str]) -> Path:
    kernels = {"smoke": {"folder": "kernels/smoke", "title": "Smoke Kernel"}}
    return write_project(folder, kernels=kernels, copy=("kernels/smoke",), code={}, tracking=tracking)


@pytest.fixture
def team(make_emulator, make_kr, tmp_path: Path, mlflow_server: str, request: pytest.FixtureRequest) -> Any:
    """testuser and alice, each with a project of the smoke kernel, both tracking into one experiment."""
    state = tmp_path / "state"
    init_state(state, {"dataset_ready_seconds": 0.3, "scoring_seconds": 0.05})
    cfg = json.loads((state / "config.json").read_text())
    cfg["users"].append({"username": "alice", "key": ALICE_KEY, "id": 2, "tokens": []})
    (state / "config.json").write_text(json.dumps(cfg))
    em = make_emulator(state)
    experiment = f"team-{request.node.name}"[:60]
    tracking = {"mlflow": mlflow_server, "experiment": experiment}
    me = make_kr(_project(tmp_path / "me", tracking), em)
    alice = make_kr(_project(tmp_path / "alice", tracking), em)
    alice.env.update(KAGGLE_USERNAME="alice", KAGGLE_KEY=ALICE_KEY, HOME=str(tmp_path / "alice-home"))
    return me, alice, experiment


def _client(url: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(url)


def test_two_members_share_runs_and_one_merges_across_the_team(team, mlflow_server: str, tmp_path: Path) -> None:
    me, alice, experiment = team
    me("push", "-m", "mine", "--wait")  # wait pulls, and sends the run to the team's server
    alice("push", "-m", "alice's", "--wait")
    alice("note", "v1", "smooth 0.05 helps")

    for kr in (me, alice):
        rows = json.loads(kr("ls", "--team", "--json").stdout)
        assert sorted((r["user"], r["id"]) for r in rows) == [("alice", "v1"), ("testuser", "v1")]
    listed = me("ls", "--team").stdout
    assert "alice" in listed and "alice's" in listed

    # a teammate's submission fetched, checked and merged like a local file; the merge submitted and scored
    merged = json.loads(me("merge", "alice/v1", "v1", "-o", "ens.csv", "--json").stdout)
    assert [i["source"] for i in merged["inputs"]] == ["alice/v1", "v1"]
    assert merged["inputs"][0]["origin"]["tracking"] == mlflow_server
    alice_file = alice.project / ".kr" / "runs" / "v1" / "submission.csv"
    assert Path(merged["inputs"][0]["path"]).read_bytes() == alice_file.read_bytes()
    scored = json.loads(me("submit", "m1", "--wait", "--json").stdout)
    assert scored["status"] == "COMPLETE"
    compared = json.loads(me("compare", "alice/v1", "v1", "--json").stdout)
    assert compared["columns"] == ["alice/v1", "v1"] and compared["metrics"]["validation.auc"][0] is not None

    # alice sees the merge of her run, with its score, without any step of hers
    rows = {(r["user"], r["id"]): r for r in json.loads(alice("ls", "--team", "--json").stdout)}
    assert rows[("testuser", "m1")]["public"] == float(scored["public_score"])
    assert rows[("testuser", "m1")]["message"] == "mean(alice/v1 + v1)"

    # MLflow's own client reads back exactly what kr wrote
    client = _client(mlflow_server)
    exp = client.get_experiment_by_name(experiment)
    runs = {(r.data.tags["kr.user"], r.data.tags["kr.label"]): r for r in client.search_runs([exp.experiment_id])}
    assert set(runs) == {("alice", "v1"), ("testuser", "v1"), ("testuser", "m1")}
    mine = runs[("testuser", "v1")]
    assert mine.info.status == "FINISHED" and mine.data.tags["kr.status"] == "COMPLETE"
    assert mine.data.tags["kr.message"] == "mine" and mine.data.params["kr.yaml.competition"] == "tiny-toxic"
    local = json.loads(me("show", "v1", "--json").stdout)
    auc = [m for m in local["metrics"] if m["series"] == "validation.auc"][0]
    history = client.get_metric_history(mine.info.run_id, "validation.auc")
    assert len(history) == auc["points"] and history[-1].value == auc["last"]
    assert [h.step for h in history] == sorted(h.step for h in history)
    got = Path(client.download_artifacts(mine.info.run_id, "outputs/submission.csv", str(tmp_path / "dl")))
    assert got.read_bytes() == (me.project / ".kr" / "runs" / "v1" / "submission.csv").read_bytes()
    assert json.loads(runs[("alice", "v1")].data.tags["kr.notes"]) == ["smooth 0.05 helps"]
    assert runs[("testuser", "m1")].data.metrics["public_score"] == float(scored["public_score"])
    inputs = json.loads(runs[("testuser", "m1")].data.tags["kr.inputs"])
    assert [i["source"] for i in inputs] == ["alice/v1", "v1"] and all(len(i["sha256"]) == 64 for i in inputs)

    # a teammate's file changed on the server after it was sent is not merged, and nothing is recorded
    forged = tmp_path / "forged" / "submission.csv"
    forged.parent.mkdir()
    forged.write_text(alice_file.read_text().replace("0.", "0.1", 1))
    client.log_artifact(runs[("alice", "v1")].info.run_id, str(forged), "outputs")
    shutil.rmtree(me.project / ".kr" / "team")
    r = me("merge", "alice/v1", "v1", "-o", "again.csv", check=2)
    assert "not merged" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert [x["id"] for x in json.loads(me("ls", "--json").stdout)] == ["v1", "m1"]

    # a second sync sends nothing: every run is there once, unchanged
    again = json.loads(me("sync", "--json").stdout)
    assert again["sent"] == 0 and again["unchanged"] == 2
