"""End to end: `kr` run as a subprocess against its own emulator, as a user runs it."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import creds, write_project
from kaggle_runner.emulator.faults import Faults, Rule

pytestmark = pytest.mark.slow

KERNEL = """import os
INPUT = os.environ.get("KAGGLE_INPUT_DIR", "/kaggle/input")
rows = open(os.path.join(INPUT, "datasets", "testuser", "train-bits", "train.csv")).read()  # the 2026 layout
print("read", len(rows.splitlines()), "rows")
with open("submission.csv", "w") as f:
    f.write("id,toxic\\n000001,0.5\\n")
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    main = {"folder": "kernels/main", "entry": "main.py", "title": "Loop Kernel", "slug": "loop-kernel"}
    return write_project(
        tmp_path / "proj",
        kernels={"main": {**main, "datasets": ["bits", "extra"]}},
        files={"kernels/main/main.py": KERNEL, "data/a/train.csv": "x\n1\n2\n", "data/b/extra.txt": "extra\n"},
        datasets={
            "bits": {"paths": ["data/a"], "slug": "train-bits"},
            "extra": {"paths": ["data/b"], "slug": "extra-bits"},
        },
        git=True,
    )


@pytest.fixture
def kr(emulator, project: Path, make_kr):
    return make_kr(project, emulator)


def _ledger(project: Path) -> list[sqlite3.Row]:
    db = sqlite3.connect(project / ".kr" / "ledger.sqlite")
    db.row_factory = sqlite3.Row
    return list(db.execute("SELECT * FROM runs ORDER BY id"))


def test_push_wait_logs_pull(kr, project: Path, emulator) -> None:
    out = kr("push", "-m", "first try", "--wait")
    assert "pushed main v1" in out.stdout and "COMPLETE" in out.stdout
    assert (project / ".kr" / "runs" / "v1" / "submission.csv").read_text() == "id,toxic\n000001,0.5\n"
    log = kr("logs", "v1").stdout
    assert "read 3 rows" in log and "KR_RUN" in log
    raw = kr("logs", "v1", "--raw").stdout
    assert raw.strip() == (project / ".kr" / "runs" / "v1" / "loop-kernel.log").read_text().strip()
    assert any("read 3 rows" in e["data"] for e in json.loads(raw))
    row = _ledger(project)[0]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True).stdout.strip()
    assert (row["version"], row["status"], row["message"], row["git_commit"]) == (1, "COMPLETE", "first try", head)
    assert json.loads(row["config"])["kernels"]["main"]["slug"] == "loop-kernel"
    status = json.loads(kr("status", "v1", "--json").stdout)
    assert (
        status
        == {"kernel": "main", "version": 1, "status": "COMPLETE", "failure": None}
        | {
            "ref": "testuser/loop-kernel",
            "duration": status["duration"],
            "metric_name": None,
            "metric": None,
        }
        and 0 <= status["duration"] < 30
    )
    pushed = json.loads(kr("push", "--json", "--wait").stdout)
    assert pushed["version"] == 2 and pushed["status"] == "COMPLETE" and pushed["exit"] == 0
    assert pushed["folder"] == ".kr/runs/v2" and pushed["log_tail"] == []
    pulled = json.loads(kr("pull", "v2", "--json").stdout)
    assert [f["path"] for f in pulled["files"]] == ["submission.csv"] and pulled["skipped"] == []
    elsewhere = project.parent / "elsewhere"
    kr("pull", "v2", "-p", str(elsewhere), "--file-pattern", r"\.csv$")  # as the kaggle CLI's options
    assert (elsewhere / "submission.csv").is_file()
    assert "--file-pattern: '(' is not a regular expression" in kr("pull", "v2", "--file-pattern", "(", check=2).stderr
    listed = json.loads(kr("ls", "--json", "-n", "1").stdout)
    assert [r["id"] for r in listed] == ["v2"]


def test_ls_is_true_without_kr_wait_and_times_the_session_not_the_look(kr, project: Path, emulator) -> None:
    """A run pushed without --wait is asked about afresh by `kr ls`; its time is its session's (the last log
    event's), not the time from the push until kr happened to look."""
    metric = '{"kr_metric": 1, "split": "validation", "epoch": 0, "metrics": {"auc": 0.75}}'
    main = project / "kernels" / "main" / "main.py"
    main.write_text(f"import time\ntime.sleep(1)\nprint({metric!r}, flush=True)\n")
    kr("push")
    for _ in range(100):
        if emulator.store.state["kernels"]["testuser/loop-kernel"]["versions"][0]["status"] == "COMPLETE":
            break
        time.sleep(0.2)
    time.sleep(3)  # kr looks a while after the session ended
    row = json.loads(kr("ls", "--json").stdout)[0]
    assert row["status"] == "COMPLETE" and 1 <= row["duration"] < 3 and row["metric"] == 0.75, row


def test_unchanged_data_is_not_uploaded_again(kr, project: Path, emulator) -> None:
    kr("push", "--wait")
    before = len(emulator.requests)
    kr("push", "--wait")
    second = [r["route"] for r in emulator.requests[before:]]
    assert not any(r.startswith(("blobs", "datasets.DatasetApiService/Create")) for r in second), second
    (project / "data" / "b" / "extra.txt").write_text("changed\n")
    before = len(emulator.requests)
    kr("push", "--wait")
    third = emulator.requests[before:]
    versions = [r for r in third if r["route"].endswith("CreateDatasetVersion")]
    uploads = [r for r in third if r["route"] == "blobs/upload"]
    assert len(versions) == 1 and len(uploads) == 1  # only the extra bundle, one file
    ds = emulator.store.state["datasets"]
    assert (len(ds["testuser/train-bits"]["versions"]), len(ds["testuser/extra-bits"]["versions"])) == (1, 2)


def test_kernel_error_exits_1_with_its_message(kr, project: Path) -> None:
    (project / "kernels" / "main" / "main.py").write_text("print('about to fail')\nraise RuntimeError('loss is nan')\n")
    r = kr("push", "--wait", check=1)
    assert "RuntimeError: loss is nan" in r.stderr and "about to fail" in r.stderr


def test_cancel_then_wait_exits_3(project: Path, make_emulator, make_kr) -> None:
    kr = make_kr(project, make_emulator(settings={"session_id_in_env": True}))  # the named leniency
    (project / "kernels" / "main" / "main.py").write_text("import time\nprint('working', flush=True)\ntime.sleep(60)\n")
    kr("push")
    for _ in range(100):
        r = kr("cancel", "v1", check=None)
        if r.returncode == 0:
            break
    assert r.returncode == 0, r.stderr
    assert kr("wait", "v1", check=3).returncode == 3


def test_without_a_session_id_cancel_is_one_line_and_the_ledger_unchanged(kr, project: Path, emulator) -> None:
    (project / "kernels" / "main" / "main.py").write_text("import time\nprint('working', flush=True)\ntime.sleep(30)\n")
    kr("push")
    before = [{k: r[k] for k in r.keys() if k != "status"} for r in _ledger(project)]
    for _ in range(100):  # until the session runs and has printed its marker, as on Kaggle with no session id in it
        r = kr("cancel", "v1", check=None)
        if "no API cancel" in r.stderr:
            break
    assert r.returncode != 0 and r.stderr.count("\n") == 1, r.stderr
    assert (
        "Kaggle offers no API cancel for main v1" in r.stderr
        and f"stop it on the emulator at {emulator.url} (it has no web pages" in r.stderr
    )
    assert "`timeout:` in kr.yaml" in r.stderr
    assert [{k: r[k] for k in r.keys() if k != "status"} for r in _ledger(project)] == before  # nothing ended
    assert kr("status", "v1").stdout.strip() == "main v1: RUNNING"


def test_cancel_reaches_a_kernel_with_internet_through_the_control_dataset(kr, project: Path, emulator) -> None:
    """Kaggle's faithful defaults: no session id anywhere. The kernel's watcher reads the control dataset with its
    session's own credential, stops within a poll period or two, and `kr wait` then exits 3."""
    (project / "kernels" / "main" / "main.py").write_text(
        "import time\nopen('partial.txt', 'w').write('epoch 1')\nprint('working', flush=True)\ntime.sleep(60)\n"
    )
    text = (
        (project / "kr.yaml")
        .read_text()
        .replace("    slug: loop-kernel\n", "    slug: loop-kernel\n    internet: true\n")
    )
    (project / "kr.yaml").write_text(text)
    kr("push", env={"KR_CONTROL_POLL_SECONDS": "1"})
    for _ in range(100):  # until the session runs and has printed its marker
        r = kr("cancel", "v1", "--json", check=None)
        if "KR_RUN marker" not in r.stderr:
            break
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["how"] == "cancelled on request" and out["ended_by"] == "testuser: cancelled on request (kr cancel)"
    control = emulator.store.state["datasets"]["testuser/kr-control"]
    assert control["isPrivate"] is True
    w = kr("wait", "v1", check=3)
    assert "cancelled on request" in w.stderr
    assert (project / ".kr" / "runs" / "v1" / "partial.txt").read_text() == "epoch 1"  # what it wrote by then
    assert _ledger(project)[0]["ended_by"] == "testuser: cancelled on request (kr cancel)"
    assert "ended by testuser: cancelled on request (kr cancel)" in kr("show", "v1").stdout
    assert json.loads(kr("ls", "--json").stdout)[0]["status"] == "CANCELLED"  # Kaggle's ERROR, as the user meant it
    # the next run of the same kernel, polling the same dataset, is not stopped by the first one's request
    (project / "kernels" / "main" / "main.py").write_text("import time\ntime.sleep(4)\nprint('done')\n")
    kr("push", env={"KR_CONTROL_POLL_SECONDS": "1"})
    assert "COMPLETE" in kr("wait", "v2").stdout


KILLED_AT_THE_CAP = """import json, os, time
print(json.dumps({"kr_metric": 1, "split": "validation", "epoch": 1, "step": 40, "metrics": {"auc": 0.91}}))
open("best.pt", "w").write("weights")
state = {"kr_progress": 1, "epoch": 1, "epochs": 5, "step": 40, "metrics": {"validation": {"auc": 0.91}},
         "checkpoint": "best.pt", "best_epoch": 1}  # as runtime.fit writes it after each epoch
json.dump(state, open("kr_progress.json.tmp", "w"))
os.replace("kr_progress.json.tmp", "kr_progress.json")
print("working", flush=True)
time.sleep(60)
"""


def test_a_run_killed_at_its_timeout_shows_how_far_it_got(kr, project: Path, emulator) -> None:
    """Kaggle kills a session at its time cap and its log comes back empty; the outputs written by then are kept.
    kr wait pulls them, and kr show reads how far the run got from the runtime's kr_progress.json."""
    (project / "kernels" / "main" / "main.py").write_text(KILLED_AT_THE_CAP)
    r = kr("push", "--timeout", "3", "--wait", check=3)  # ended by Kaggle at its limit: CANCEL_ACKNOWLEDGED
    assert "CANCEL_ACKNOWLEDGED" in r.stderr
    assert emulator.store.state["kernels"]["testuser/loop-kernel"]["versions"][0]["timeout"] == 3
    logs = kr("logs", "v1", check=1)  # no log to show
    assert "working" not in logs.stdout and "ended CANCEL_ACKNOWLEDGED with an empty log" in logs.stderr
    assert (project / ".kr" / "runs" / "v1" / "best.pt").read_text() == "weights"
    show = kr("show", "v1").stdout
    assert "progress: epoch 2 of 5 done (step 40), validation auc 0.91, checkpoint best.pt" in show, show
    info = json.loads(kr("show", "v1", "--json").stdout)
    assert info["progress"]["epoch"] == 1 and info["metric"] == 0.91, info  # the headline, from the file
    bad = kr("push", "--timeout", "0", check=2)
    assert "--timeout: 0 is not a number of seconds" in bad.stderr


def test_logs_of_a_running_session_say_where_the_live_log_is(project: Path, make_emulator, make_kr) -> None:
    kr = make_kr(project, make_emulator(settings={"session_id_in_env": True}))
    (project / "kernels" / "main" / "main.py").write_text("import time\nprint('working', flush=True)\ntime.sleep(30)\n")
    kr("push")
    r = kr("logs", "v1")
    assert "Kaggle keeps a session's log empty until it ends; `kr logs main:v1 --follow` streams it live" in r.stderr
    for _ in range(100):  # a session still QUEUED has not printed the marker that names it
        cancelled = kr("cancel", "v1", check=None)
        if cancelled.returncode == 0:
            break
    assert "cancelled; now CANCEL_ACKNOWLEDGED" in cancelled.stdout, cancelled.stderr  # followed to its end
    assert kr("wait", "v1", check=3).returncode == 3
    ended = kr("cancel", "v1", check=None)
    assert ended.returncode != 0 and "has already ended (CANCEL_ACKNOWLEDGED)" in ended.stderr


def test_faults_on_every_route_still_give_one_version_and_one_row(make_emulator, project: Path, make_kr) -> None:
    rules = [
        Rule(route="kernels.*/SaveKernel", fault="reset_after", times=1),
        Rule(route="*", fault="429", rate=0.15, retry_after=0),
        Rule(route="*", fault="500", rate=0.1),
        Rule(route="*", fault="reset", rate=0.1),
    ]
    em = make_emulator(faults=Faults(rules, seed=3))
    make_kr(project, em)("push", "--wait", env={"KR_RETRY_BASE_SECONDS": "0.02"}, timeout=180)
    assert sum(1 for q in em.requests if q["fault"]) >= 5  # faults really happened
    assert len(em.store.state["kernels"]["testuser/loop-kernel"]["versions"]) == 1
    rows = _ledger(project)
    assert [(x["version"], x["state"]) for x in rows] == [(1, "pushed")]
    assert (project / ".kr" / "runs" / "v1" / "submission.csv").exists()


def _crashed_push(emulator, project: Path, message: str) -> tuple[int, Callable[[], dict]]:
    """The ledger as a crash right after SaveKernel leaves it: a row still 'pushing', and a function that sends
    the SaveKernel that row stands for (its source carries the row's id, as kr push's does)."""
    from helpers import Api
    from kaggle_runner.ledger.db import open_ledger
    from kaggle_runner.loop import bootstrap

    ledger = open_ledger(project)
    run_id = ledger.begin_push("main", "testuser/loop-kernel", "cpu", "", message, None, False, {}, {})
    ledger.close()
    c = creds(emulator)
    source = bootstrap.script(f"print({message!r})\n", {"run": run_id, "kernel": "main", "kind": "cpu", "label": "CPU"})
    return run_id, lambda: Api(emulator.url, c["username"], c["key"]).push("loop-kernel", source)


def test_interrupted_push_is_reconciled_by_the_next_command(kr, project: Path, emulator) -> None:
    _, send = _crashed_push(emulator, project, "crashed")
    send()
    r = kr("status", "v1")
    assert "recovered an interrupted push: main v1" in r.stderr and "main v1:" in r.stdout
    assert [(x["version"], x["state"]) for x in _ledger(project)] == [(1, "pushed")]


def test_two_pushes_cut_off_at_once_are_matched_by_identity_not_order(kr, project: Path, emulator) -> None:
    from helpers import Api

    first, send_first = _crashed_push(emulator, project, "first")
    second, send_second = _crashed_push(emulator, project, "second")
    send_second()  # the later row reached Kaggle first: v1 is `second`, v2 is `first`
    send_first()
    c = creds(emulator)
    Api(emulator.url, c["username"], c["key"]).wait("loop-kernel", 1)
    kr("status", "v2")
    rows = {x["id"]: (x["version"], x["state"], x["message"]) for x in _ledger(project)}
    assert rows == {first: (2, "pushed", "first"), second: (1, "pushed", "second")}
    assert json.loads(kr("show", "v1", "--json").stdout)["message"] == "second"


def _age(project: Path, run_id: int, seconds: float) -> None:
    """Make a row look `seconds` older, past the grace a cut-off push gets before it counts as never sent."""
    db = sqlite3.connect(project / ".kr" / "ledger.sqlite")
    db.execute("UPDATE runs SET created = created - ? WHERE id = ?", (seconds, run_id))
    db.commit()
    db.close()


def test_a_push_that_never_reached_kaggle_is_abandoned_even_after_others(kr, project: Path, emulator) -> None:
    from helpers import Api

    c = creds(emulator)
    Api(emulator.url, c["username"], c["key"]).push("loop-kernel", "print('pushed from the web editor')\n")
    lost, _ = _crashed_push(emulator, project, "lost")  # cut off before SaveKernel was sent
    _age(project, lost, 600)
    kr("status", "latest", check=None)
    assert [(x["id"], x["state"]) for x in _ledger(project)] == [(lost, "abandoned")]


def test_a_push_killed_in_flight_stays_pushing_until_its_version_shows(kr, project: Path, emulator) -> None:
    """A kill during SaveKernel, then another command at once: the version was created a moment later, and the
    row had already been marked as never having reached Kaggle."""
    run_id, send = _crashed_push(emulator, project, "in flight")
    kr("status", "latest", check=None)  # a command that talks to Kaggle settles cut-off pushes first
    assert [(x["id"], x["state"]) for x in _ledger(project)] == [(run_id, "pushing")]
    send()  # the server gets round to it
    assert "recovered an interrupted push: main v1" in kr("status", "v1").stderr
    assert [(x["version"], x["state"], x["message"]) for x in _ledger(project)] == [(1, "pushed", "in flight")]


def test_a_lost_answer_is_matched_by_the_run_marker_not_by_a_newer_number(make_emulator, project: Path, make_kr):
    """SaveKernel's answer lost while a version from the web editor landed: that version was recorded as kr's."""
    from helpers import Api

    class OutsidePushFirst(Faults):
        done = False

        def pick(self, route: str) -> Rule | None:
            if route.endswith("/SaveKernel") and not self.done:
                self.done = True
                c = creds(em)
                Api(em.url, c["username"], c["key"]).push("loop-kernel", "print('from the web editor')\n")
                return Rule(fault="reset")  # kr's own request is dropped before the emulator handles it
            return None

    em = make_emulator(faults=OutsidePushFirst())
    r = make_kr(project, em)("push", "-m", "mine")
    assert "pushed main v2" in r.stdout, r.stdout + r.stderr
    assert [(x["version"], x["message"]) for x in _ledger(project)] == [(2, "mine")]
    assert len(em.store.state["kernels"]["testuser/loop-kernel"]["versions"]) == 2  # the editor's v1 and kr's v2


def test_a_refused_push_that_replaced_the_source_is_not_taken_for_the_newest_version(
    project: Path, make_emulator, make_kr
) -> None:
    """A push refused at the cap still replaces the kernel's source: recovery that read the newest source as the
    newest version's took the refused run's marker for it, and marked the cut-off push as never sent."""
    from helpers import Api
    from kaggle_runner.ledger.db import open_ledger
    from kaggle_runner.loop import bootstrap

    em = make_emulator(settings={"max_sessions": {"cpu": 1, "gpu": 2, "tpu": 1}})
    api = Api(em.url, creds(em)["username"], creds(em)["key"])
    cut_off, _ = _crashed_push(em, project, "cut off")
    _age(project, cut_off, 600)
    api.push("loop-kernel", bootstrap.script("import time\ntime.sleep(2)\n", {"run": cut_off, "kernel": "main"}))
    ledger = open_ledger(project)
    refused = ledger.begin_push("main", "testuser/loop-kernel", "cpu", "", "refused", None, False, {}, {})
    ledger.abandon_push(refused, "Kaggle refused the push", "REFUSED")
    ledger.close()
    answer = api.push("loop-kernel", bootstrap.script("print('refused')\n", {"run": refused, "kernel": "main"}))
    assert answer["error"] == "Maximum batch CPU session count of 1 reached."  # and its source is the kernel's now
    kr = make_kr(project, em)
    assert "recovered an interrupted push: main v1" in kr("status", "latest", check=None).stderr
    rows = {x["id"]: (x["version"], x["state"]) for x in _ledger(project)}
    assert rows[cut_off] == (1, "pushed")  # known by its own marker, not given up for the refused run's


def test_a_version_another_project_pushed_with_the_same_run_id_is_not_taken(kr, project: Path, emulator) -> None:
    from helpers import Api

    lost, _ = _crashed_push(emulator, project, "lost")
    _age(project, lost, 600)
    marker = json.dumps({"run": lost, "project": "someone-elses", "kernel": "main"})
    c = creds(emulator)
    Api(emulator.url, c["username"], c["key"]).push("loop-kernel", f"_kr_marker = {marker!r}\nprint('theirs')\n")
    kr("status", "latest", check=None)
    assert [(x["id"], x["state"]) for x in _ledger(project)] == [(lost, "abandoned")]


@pytest.mark.parametrize("case", ["yaml", "version", "credentials", "tpu"])
def test_user_errors_are_one_clear_line(kr, project: Path, case: str, tmp_path: Path) -> None:
    if case == "yaml":
        (project / "kr.yaml").write_text("kernels:\n  main:\n    accelerator: quantum\n")
        r, expect = kr("status", check=2), "kr.yaml: kernels.main.accelerator: 'quantum' is unknown; use one of"
    elif case == "version":
        r, expect = kr("status", "v7", check=2), "no run v7 of kernel 'main'"
    elif case == "credentials":
        env = {"KAGGLE_CONFIG_DIR": str(tmp_path / "nothing")}
        r, expect = kr("status", check=2, env=env), "no Kaggle credentials"
    else:
        r, expect = kr("push", "--accel", "tpu", "--wait", check=1), "TPU v5e-8"
    assert expect in r.stderr and "Traceback" not in r.stderr
    if case != "tpu":
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys\nsys.argv = ['kr', '--help']\nimport kaggle_runner.cli as c\n"
        "try:\n    c.main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'kaggle_runner.runtime', 'pandas', 'pyarrow', 'matplotlib', "
        "'numpy', 'kagglesdk', 'requests', 'pathspec')"
        " if m in sys.modules]\nprint('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert "HEAVY []" in out, out  # requests alone costs about 0.1 s


@pytest.mark.parametrize("layout", ["2026", "legacy"])
def test_init_in_an_empty_folder_pushes_unedited(make_emulator, tmp_path: Path, layout: str, make_kr) -> None:
    emulator = make_emulator(settings={"input_layout": layout})
    empty = tmp_path / "fresh-project"
    empty.mkdir()
    kr = make_kr(empty, emulator)
    kr("init", "--competition", "tiny-toxic")
    kr("push", "--wait", "-m", "starter")
    sample = (emulator.store.root / "competitions/tiny-toxic/data/sample_submission.csv").read_text()
    assert (empty / ".kr" / "runs" / "v1" / "submission.csv").read_text() == sample


def test_init_adopts_a_kaggle_cli_kernel_folder_and_its_set_example_works(emulator, tmp_path: Path, make_kr) -> None:
    """A kaggle CLI user's folder (kernel-metadata.json and a notebook) becomes a kr project without moving a file;
    the README's `kr push --set lr=...` works on kr init's own template."""
    folder = tmp_path / "my-kernel"
    folder.mkdir()
    cells = [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": ["print('adopted')"]}
    ]
    (folder / "nb.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    meta = {"id": "testuser/my-kernel", "title": "My Kernel", "code_file": "nb.ipynb", "kernel_type": "notebook"}
    meta |= {
        "enable_gpu": False,
        "enable_internet": False,
        "competition_sources": ["tiny-toxic"],
        "dataset_sources": [],
    }
    (folder / "kernel-metadata.json").write_text(json.dumps(meta))
    kr = make_kr(folder, emulator)
    assert "wrote kr.yaml for testuser/my-kernel (nb.ipynb)" in kr("init").stdout
    kr("push", "--wait")
    assert "adopted" in kr("logs", "v1").stdout
    sources = emulator.store.state["kernels"]["testuser/my-kernel"]["versions"][0]["sources"]
    assert sources["competitionDataSources"] == ["tiny-toxic"]
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    starter = make_kr(fresh, emulator)
    starter("init")
    assert "pushed main v1" in starter("push", "--set", "lr=2e-5").stdout  # kr init's params: has lr


def test_follow_survives_a_dropped_stream_without_repeating_lines(make_emulator, project: Path, make_kr) -> None:
    em = make_emulator(faults=Faults([Rule(route="kernels/logs/stream", fault="reset", times=2)]))
    (project / "kernels" / "main" / "main.py").write_text(
        "import time\nfor i in range(5):\n    print('line', i, flush=True)\n    time.sleep(0.2)\n"
    )
    kr = make_kr(project, em)
    kr("push")
    r = kr("logs", "v1", "--follow")
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("line")]
    assert lines == [f"line {i}" for i in range(5)]
    assert sum(1 for q in em.requests if q["route"] == "kernels/logs/stream" and q["fault"] == "reset") == 2


def test_code_bundle_is_installed_offline_and_reused(kr, project: Path, emulator) -> None:
    (project / "src" / "mylib").mkdir(parents=True)
    (project / "src" / "mylib" / "__init__.py").write_text("VALUE = 42\n")
    (project / "src" / "mylib" / "vocab.txt").write_text("hello\n")
    with open(project / "kr.yaml", "a") as f:
        f.write("code:\n  packages: [src/mylib]\n")
    (project / "kernels" / "main" / "main.py").write_text(
        "import os, mylib, kaggle_runner\n"
        "print('value', mylib.VALUE)\n"
        "print('data', open(os.path.join(os.path.dirname(mylib.__file__), 'vocab.txt')).read().strip())\n"
        "print('runner from bundle', 'kr-code-' in kaggle_runner.__file__)\n"
    )
    kr("push", "--wait")
    log = kr("logs", "v1").stdout
    assert "value 42" in log and "data hello" in log and "runner from bundle True" in log
    assert "testuser/loop-kernel-code" in emulator.store.state["datasets"]
    before = len(emulator.requests)
    kr("push", "--wait")
    assert not any(r["route"] == "blobs/upload" for r in emulator.requests[before:])  # unchanged: nothing sent
    (project / "src" / "mylib" / "__init__.py").write_text("VALUE = 43\n")
    kr("push", "--wait")
    assert "value 43" in kr("logs", "v3").stdout


def test_pull_fetches_every_page_beyond_500_files(kr, project: Path, emulator) -> None:
    (project / "kernels" / "main" / "main.py").write_text(
        "import os\nos.makedirs('preds', exist_ok=True)\n"
        "for i in range(520):\n    open(f'preds/p{i:03d}.txt', 'w').write(str(i))\n"
    )
    kr("push", "--wait")
    files = sorted((project / ".kr" / "runs" / "v1" / "preds").iterdir())
    assert len(files) == 520 and files[519].read_text() == "519"
    pages = [r for r in emulator.requests if r["route"].endswith("ListKernelSessionOutput")]
    assert len(pages) >= 2  # 500 per page
    import sqlite3

    db = sqlite3.connect(project / ".kr" / "ledger.sqlite")
    assert db.execute("SELECT COUNT(*) FROM files").fetchone()[0] == 520


def test_usage_errors_are_short_and_exit_2(tmp_path: Path, make_kr) -> None:
    for args in (["push", "--bogus"], ["merge"]):
        r = make_kr(tmp_path)(*args, check=None)
        assert r.returncode == 2 and "Traceback" not in r.stderr and "Error: " in r.stderr, r.stderr


def test_a_push_over_the_gpu_cap_is_one_line_naming_the_runs_that_hold_it(
    project: Path, make_emulator, make_kr
) -> None:
    em = make_emulator(fallback_cpu=True, settings={"max_sessions": {"cpu": 5, "gpu": 2, "tpu": 1}})
    em.kernels.executor.gpus = 0
    # Sessions that outlast any slow machine: the test ends v1 itself once the queued push has said it waits.
    (project / "kernels" / "main" / "main.py").write_text("import time\ntime.sleep(300)\n")
    kr = make_kr(project, em)
    kr("push", "--accel", "gpu", "-m", "one")
    kr("push", "--accel", "gpu", "-m", "two")
    r = kr("push", "--accel", "gpu", "-m", "three", check=None)
    error = r.stderr.splitlines()[-1]
    assert r.returncode != 0 and r.stderr.count("kr: error:") == 1 and error.startswith("kr: error:"), r.stderr
    assert "Kaggle refused the push: Maximum batch GPU session count of 2 reached." in error
    assert "held by main v1 (RUNNING), main v2 (RUNNING)" in error
    rows = [(x["version"], x["state"], x["status"], x["message"]) for x in _ledger(project)]
    assert rows[2] == (None, "abandoned", "REFUSED", "three")  # kept, marked refused, not a version
    assert [r[:2] for r in rows[:2]] == [(1, "pushed"), (2, "pushed")]
    assert len(em.store.state["kernels"]["testuser/loop-kernel"]["versions"]) == 2
    assert [row["version"] for row in json.loads(kr("ls", "--json").stdout)] == [1, 2]
    queued = kr.start("push", "--accel", "gpu", "-m", "three", "--queue")  # waits for v1 or v2 to end, then pushes
    said = []
    for line in iter(queued.stderr.readline, ""):
        said.append(line)
        if "waiting for one to end" in line:
            break
    assert "Kaggle's cap of 2 GPU sessions is held by main v1, main v2; waiting for one to end" in said[-1], said
    v1 = em.store.state["kernels"]["testuser/loop-kernel"]["versions"][0]
    assert em.kernels.executor.cancel(v1["sessionId"]) is None  # as the user would on Kaggle's page
    out, rest = queued.communicate(timeout=120)
    assert queued.returncode == 0 and "pushed main v3" in out and "kr wait" not in rest  # it waits itself
    assert len(em.store.state["kernels"]["testuser/loop-kernel"]["versions"]) == 3
    assert [row["version"] for row in json.loads(kr("ls", "--json").stdout)] == [1, 2, 3]
    saves = [e for e in em.requests if e.get("path", "").endswith("SaveKernel")]
    assert len(saves) == 4  # two pushes, one refusal, then the push when a slot freed: kr knows the GPU cap is 2


def test_an_entry_that_does_not_compile_is_refused_before_any_request(kr, project: Path, emulator) -> None:
    """A syntax error would cost a session (hours in the TPU queue): it is one line naming file and line, and
    neither the datasets nor the kernel go up. --no-check pushes it anyway, and Kaggle's run fails on it."""
    (project / "kernels" / "main" / "main.py").write_text("# a typo\nimport os\nfor i in range(3)\n    print(i)\n")
    before = len(emulator.requests)
    r = kr("push", "-m", "typo", check=None)
    assert r.returncode != 0 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("kr: error: kernels/main/main.py:3: ") and "--no-check" in r.stderr
    sent = [q["route"] for q in emulator.requests[before:]]
    assert not any("SaveKernel" in s or "blobs" in s or "Dataset" in s for s in sent), sent
    assert _ledger(project) == []
    kr("push", "-m", "typo", "--no-check", "--wait", check=1)
    logs = kr("logs", "v1")
    assert "SyntaxError" in logs.stdout + logs.stderr and ", line 3" in logs.stdout + logs.stderr  # the user's line


def test_a_kernel_imports_the_modules_beside_it_and_opens_their_files(kr, project: Path, emulator) -> None:
    """The kernel's folder goes up with it (kr-src/ in the code bundle), first on sys.path as `python main.py` has
    it; a second push with the folder unchanged uploads nothing, and a typo'd import is refused before any request."""
    folder = project / "kernels" / "main"
    (folder / "utils.py").write_text(
        "import os\nVOCAB = open(os.path.join(os.path.dirname(__file__), 'vocab.txt')).read().split()\n"
    )
    (folder / "vocab.txt").write_text("alpha beta gamma\n")
    (folder / "main.py").write_text("from utils import VOCAB\nprint('vocab', len(VOCAB))\n" + KERNEL)
    kr("push", "--wait")
    assert "vocab 3" in kr("logs", "v1").stdout
    before = len(emulator.requests)
    kr("push", "--wait")
    assert not any(q["route"].startswith("blobs") for q in emulator.requests[before:])

    (folder / "main.py").write_text("import os\nfrom utilz import VOCAB\n")
    before = len(emulator.requests)
    r = kr("push", check=2)
    assert r.stderr.startswith("kr: error: kernels/main/main.py:2: no module 'utilz' in the kernel's folder"), r.stderr
    assert not any("SaveKernel" in q["route"] or "blobs" in q["route"] for q in emulator.requests[before:])


def test_a_slug_another_project_pushes_to_is_refused_before_any_upload(tmp_path: Path, emulator, make_kr) -> None:
    """Two projects with a kernel named `infer` would share testuser/infer, the second retitling the first; a fresh
    clone of the same project (its own ledger, the same folder name) is still that project."""
    files = {"kernels/infer/main.py": "print('hi')\n"}
    jigsaw = write_project(tmp_path / "jigsaw", kernels={"infer": {}}, files=files)
    other = write_project(tmp_path / "other_comp", kernels={"infer": {"title": "Other Infer"}}, files=files)
    make_kr(jigsaw, emulator)("push", "--wait")
    before = len(emulator.requests)
    r = make_kr(other, emulator)("push", check=2)
    assert r.stderr == (
        "kr: error: testuser/infer was last pushed by another kr project ('jigsaw'); give this one a slug of its "
        "own: kernels.infer.slug in kr.yaml (e.g. slug: other-comp-infer); nothing was pushed\n"
    )
    assert not any("SaveKernel" in q["route"] or "blobs" in q["route"] for q in emulator.requests[before:])
    clone = tmp_path / "elsewhere" / "jigsaw"
    shutil.copytree(jigsaw, clone, ignore=shutil.ignore_patterns(".kr"))
    assert "pushed infer v2" in make_kr(clone, emulator)("push").stdout


def test_a_push_while_another_run_is_queued_says_that_run_keeps_its_own_code(
    project: Path, make_emulator, make_kr
) -> None:
    em = make_emulator(settings={"max_sessions": {"cpu": 1, "gpu": 2, "tpu": 1}, "queue_over_cap": True})
    (project / "kernels" / "main" / "main.py").write_text("import time\ntime.sleep(300)\n")  # ended with the emulator
    kr = make_kr(project, em)
    kr("push", "-m", "one")
    kr("push", "-m", "two")  # waits in Kaggle's queue behind v1
    third = kr("push", "-m", "three")
    assert "note: main v2 still queued; it runs the code it was pushed with, not this push's" in third.stderr
    assert "v1 still queued" not in third.stderr


def test_a_pinned_docker_image_goes_up_with_a_gpu_and_is_refused_with_a_tpu(kr, project: Path, emulator) -> None:
    """Kaggle runs a TPU request that pins an image on the CPU, silently: kr refuses it before anything goes up."""
    text = (project / "kr.yaml").read_text().replace("slug: loop-kernel", "slug: loop-kernel\n    docker_image: img:v1")
    (project / "kr.yaml").write_text(text)
    r = kr("push", "--accel", "tpu", "-m", "pinned", check=2)
    assert r.stderr.strip().splitlines() == [
        "kr: error: kr.yaml: kernels.main.docker_image: a TPU runs without a docker image; push without --accel tpu, "
        "or drop docker_image"
    ]
    assert "testuser/loop-kernel" not in emulator.store.state["kernels"] and _ledger(project) == []
    kr("push", "--accel", "l4", "-m", "pinned")
    kernel = emulator.store.state["kernels"]["testuser/loop-kernel"]
    assert kernel["dockerImage"] == "img:v1" and kernel["versions"][0]["machineShape"] == "NvidiaL4X1"
