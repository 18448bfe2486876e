"""End to end, the ledger's side of the loop: two versions pushed, waited, submitted, merged, the merge submitted,
and `kr ls` showing three public scores from the emulator's scorer; then scores, show, compare, plot and note."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from helpers import write_project

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def smoke_project(tmp_path: Path) -> Path:
    kernels = {"smoke": {"folder": "kernels/smoke", "title": "Smoke Kernel"}}
    # code: {}: the code bundle carries kaggle_runner.runtime
    return write_project(tmp_path / "proj", kernels=kernels, copy=("kernels/smoke",), code={})


@pytest.fixture
def kr(emulator, tmp_path: Path, make_kr):
    return make_kr(smoke_project(tmp_path), emulator)


def test_the_loop_runs_under_the_legacy_input_layout(make_emulator, tmp_path: Path, make_kr) -> None:
    """Accounts that still see the flat /kaggle/input/<slug>: the bootstrap finds the code bundle and the runtime
    the competition there too (the 2026 layout is the emulator's default, run by every other story)."""
    kr = make_kr(smoke_project(tmp_path), make_emulator(settings={"input_layout": "legacy"}))
    kr("push", "-m", "flat", "--wait")
    assert "trained on cpu x1" in kr("logs", "v1").stdout
    assert json.loads(kr("submit", "v1", "--wait", "--json").stdout)["status"] == "COMPLETE"


def test_two_versions_submitted_merged_and_listed(kr, emulator, kaggle) -> None:
    project = kr.project
    kr("push", "-m", "baseline lr 1e-2")
    main = project / "kernels" / "smoke" / "main.py"
    main.write_text(main.read_text().replace("LR = 1e-2", "LR = 2e-2"))
    kr("push", "-m", "lr 2e-2")
    kr("wait", "v1")
    kr("wait", "v2")
    table = kr("logs", "v2", "--metrics").stdout
    assert "validation.auc" in table and "train.loss" in table
    assert "trained on cpu x1" in kr("logs", "v1").stdout  # the smoke kernel ran through kaggle_runner.runtime

    first = json.loads(kr("submit", "v1", "--wait", "--json").stdout)
    second = json.loads(kr("submit", "v2", "-m", "slower", "--wait", "--json").stdout)
    assert first["status"] == second["status"] == "COMPLETE"
    merged = json.loads(kr("merge", "v1", "v2", "-o", "ens.csv", "--json").stdout)
    assert merged["id"] == "m1" and [i["source"] for i in merged["inputs"]] == ["v1", "v2"]
    third = json.loads(kr("submit", "m1", "--wait", "--json").stdout)

    scored = {int(ref): s for ref, s in emulator.store.state["submissions"].items()}
    rows = {r["id"]: r for r in json.loads(kr("ls", "--json").stdout)}
    assert list(rows) == ["v1", "v2", "m1"]
    for label, sub in (("v1", first), ("v2", second), ("m1", third)):
        assert rows[label]["public"] == float(scored[sub["ref"]]["publicScore"])
        assert sub["public_score"] == scored[sub["ref"]]["publicScore"]
    assert scored[second["ref"]]["description"].startswith("v2 slower [kr ")  # the file's sha256 tags it

    # the metrics of each run were read from its log when it was pulled
    points = json.loads(kr("metrics", str(project / ".kr" / "runs" / "v2" / "smoke.log"), "--json").stdout)
    last_auc = [p["value"] for p in points if p["name"] == "auc"][-1]
    assert rows["v2"]["metric_name"] == "validation.auc" and rows["v2"]["metric"] == last_auc
    assert rows["m1"]["message"] == "mean(v1 + v2)"

    best_first = [r["id"] for r in json.loads(kr("ls", "--json", "--sort", "public").stdout)]
    assert rows[best_first[0]]["public"] == max(r["public"] for r in rows.values())

    # a submission made outside kr is imported by `kr scores`
    kaggle("competitions", "submit", "-c", "tiny-toxic", "-f", str(project / "ens.csv"), "-m", "by hand")
    subs = json.loads(kr("scores", "--json").stdout)
    assert len(subs) == 4
    outside = [s for s in subs if s["description"] == "by hand"]
    assert len(outside) == 1 and outside[0]["source"] is None and outside[0]["run_id"] is None

    # show, compare, note, plot
    shown = json.loads(kr("show", "v2", "--json").stdout)
    assert shown["previous"] == "v1"
    assert {f["path"] for f in shown["files"]} == {"submission.csv", "best.pt", "kr_progress.json"}
    assert [s["ref"] for s in shown["submissions"]] == [second["ref"]]
    assert any(m["series"] == "validation.auc" and m["last"] == last_auc for m in shown["metrics"])
    cmp = json.loads(kr("compare", "v1", "v2", "m1", "--json").stdout)
    assert cmp["columns"] == ["v1", "v2", "m1"] and cmp["metrics"]["validation.auc"][1] == last_auc
    assert cmp["public"] == [rows["v1"]["public"], rows["v2"]["public"], rows["m1"]["public"]]
    kr("note", "v1", "too fast a learning rate?")
    assert json.loads(kr("ls", "--json").stdout)[0]["notes"] == ["too fast a learning rate?"]
    kr("plot", "v1", "v2", "--metric", "validation.auc", "-o", "curves.png")
    kr("plot", "--scores", "-o", "lb.png")
    for png in ("curves.png", "lb.png"):
        assert (project / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    missing = kr("plot", "v1", "--metric", "nope", "-o", "x.png", check=2)
    assert "no series 'nope'" in missing.stderr and "validation.auc" in missing.stderr
    assert not (project / "x.png").exists()


def test_submit_refuses_a_bad_file_before_uploading(kr, emulator) -> None:
    project = kr.project
    sample = (emulator.store.root / "competitions" / "tiny-toxic" / "data" / "sample_submission.csv").read_text()
    lines = sample.splitlines()
    cases = {
        "short.csv": ("\n".join(lines[:-1]) + "\n", "has no row for id"),
        "stranger.csv": (
            "\n".join(lines[:-1] + ["999999,0.5"]) + "\n",
            "line 201: id '999999' is not in sample_submission.csv",
        ),
        "nan.csv": (
            "\n".join(lines[:3] + [lines[3].split(",")[0] + ",nan"] + lines[4:]) + "\n",
            "line 4: column 'toxic' is blank or NaN",
        ),
        "header.csv": ("\n".join(["id,score"] + lines[1:]) + "\n", "line 1: lacks column 'toxic'"),
        "dup.csv": ("\n".join(lines + [lines[5]]) + "\n", "repeats line 6"),
    }
    before = len(emulator.requests)
    for name, (text, message) in cases.items():
        (project / name).write_text(text)
        r = kr("submit", name, check=None)
        assert r.returncode != 0 and message in r.stderr and r.stderr.count("\n") == 1, (name, r.stderr)
    routes = [q["route"] for q in emulator.requests[before:]]
    assert not any("StartSubmissionUpload" in r or "CreateSubmission" in r for r in routes)
    assert sum("DownloadDataFile" in r for r in routes) == 1  # the sample is fetched once, then cached
    (project / "good.csv").write_text(sample)
    ok = json.loads(kr("submit", "good.csv", "--json").stdout)
    assert ok["status"] == "PENDING" and ok["source"] == ""
    bad_version = kr("submit", "v7", check=None)
    assert bad_version.returncode == 2 and "no run v7" in bad_version.stderr


def test_ls_imports_nothing_heavy(kr) -> None:
    code = (
        "import sys\nsys.argv = ['kr', 'ls']\nimport kaggle_runner.cli as c\n"
        "try:\n    c.main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'kaggle_runner.runtime', 'pandas', 'pyarrow', 'matplotlib', "
        "'numpy', 'kagglesdk')"
        " if m in sys.modules]\nprint('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=kr.project)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


def test_diff_shows_the_code_params_and_kr_yaml_that_changed_between_two_runs(tmp_path: Path, make_kr, emulator):
    """The pushed source was not kept: code pushed from a dirty tree could not be recovered or compared."""
    root = write_project(
        tmp_path / "p",
        kernels={"main": {"folder": "k", "entry": "main.py", "title": "Main Kernel"}},
        files={"k/main.py": "from helper import LR\nprint(LR)\n", "k/helper.py": "LR = 1\n"},
        params={"lr": 0.001},
    )
    kr = make_kr(root, emulator)
    kr("push", "-m", "first")
    (root / "k" / "helper.py").write_text("LR = 2\n")
    (root / "k" / "main.py").write_text("from helper import LR\nprint('lr', LR)\n")
    kr("push", "--set", "lr=0.002", "-m", "second")
    out = kr("diff", "v1", "v2").stdout
    assert "params: lr 0.001 -> 0.002" in out
    assert "--- v1/k/main.py\n+++ v2/k/main.py" in out and "-print(LR)\n+print('lr', LR)" in out
    assert "-LR = 1\n+LR = 2" in out
    assert "_kr_source" not in out and "KR_RUN" not in out  # the bootstrap is not the user's code
    info = json.loads(kr("diff", "v1", "v2", "--json").stdout)
    assert info["params"] == {"lr": [0.001, 0.002]} and not info["unkept"] and info["config"] == []
    assert kr("diff", "v2", "v2").stdout == "params: unchanged\nkr.yaml: unchanged\ncode: unchanged\n"


def test_a_teammates_submission_is_listed_fetched_and_merged(make_emulator, tmp_path: Path, make_kr) -> None:
    """A Kaggle team without a tracking server: alice submits from her machine; `kr scores` lists hers beside
    mine, `--download` fetches her file, and `kr merge v1 subN` blends it with my run."""
    from helpers import Api
    from kaggle_runner.emulator.seed import init_state

    state = tmp_path / "state"
    init_state(state, {"dataset_ready_seconds": 0.3, "scoring_seconds": 0.05})
    cfg = json.loads((state / "config.json").read_text())
    cfg["users"].append({"username": "alice", "key": "0" * 32, "id": 2, "tokens": []})
    (state / "config.json").write_text(json.dumps(cfg))
    comp = state / "competitions/tiny-toxic/competition.json"
    comp.write_text(json.dumps({**json.loads(comp.read_text()), "teams": {"Twins": ["testuser", "alice"]}}))
    em = make_emulator(state)
    kr = make_kr(smoke_project(tmp_path), em)
    kr("push", "-m", "mine", "--wait")
    kr("submit", "v1", "--wait")

    alice = Api(em.url, "alice", "0" * 32)
    sample = (state / "competitions/tiny-toxic/data/sample_submission.csv").read_bytes()
    start = alice.ok(
        "competitions.StartSubmissionUpload",
        {"competitionName": "tiny-toxic", "fileName": "hers.csv", "contentLength": len(sample)},
    )
    assert requests.put(start["createUrl"], data=sample, timeout=10).status_code == 200
    body = {"competitionName": "tiny-toxic", "blobFileTokens": start["token"], "submissionDescription": "alice's"}
    hers = alice.ok("competitions.CreateSubmission", body)["ref"]

    listed = json.loads(kr("scores", "--json").stdout)
    assert sorted((s["submitted_by"], s["source"]) for s in listed) == [
        ("alice", "alice: hers.csv"),
        ("testuser", "v1"),
    ]
    refused = kr("merge", "v1", f"sub{hers}", check=2)
    assert refused.stderr.strip().splitlines() == [
        f"kr: error: sub{hers}: its file is not kept here; `kr scores --download` fetches your teammates' files"
    ]

    fetched = {s["ref"]: s for s in json.loads(kr("scores", "--download", "--json").stdout)}
    assert Path(fetched[hers]["path"]).read_bytes() == sample and fetched[hers]["source"] == f"alice: sub{hers}"
    merged = json.loads(kr("merge", "v1", f"sub{hers}", "--json").stdout)
    assert merged["sources"] == ["v1", f"sub{hers}"] and merged["rows"] == len(sample.splitlines()) - 1
