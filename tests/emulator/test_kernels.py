"""Kernel sessions on the emulator: versions, per-version status, outputs, cancel, limits, restarts."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import requests

from helpers import Api, creds

SLEEPER = "import os, time\nprint('pid', os.getpid(), flush=True)\ntime.sleep(60)\n"


def test_versions_count_up_and_status_is_per_version(api: Api) -> None:
    first = api.push("two-runs", "import time; time.sleep(3); print('one')")
    second = api.push("two-runs", "raise SystemExit('second fails')")
    assert (first["versionNumber"], second["versionNumber"]) == (1, 2)
    assert first["ref"] == "testuser/two-runs" and first["kernelId"] == second["kernelId"]
    assert api.wait("two-runs", 2)["status"] == "ERROR"
    assert api.status("two-runs", 1)["status"] in ("QUEUED", "RUNNING")  # v1 is still running: not v2's answer
    assert api.wait("two-runs", 1)["status"] == "COMPLETE"
    assert api.status("two-runs")["status"] == "ERROR"  # no label: the latest version
    r = api.call(
        "kernels.GetKernelSessionStatus", {"userName": "testuser", "kernelSlug": "two-runs", "versionLabel": "3"}
    )
    assert r.status_code == 404


def test_kernel_error_message_names_the_exception(api: Api) -> None:
    api.push("raiser", "print('before')\nraise ValueError('bad learning rate')\n")
    st = api.wait("raiser")
    assert st["status"] == "ERROR"
    assert "ValueError: bad learning rate" in st["failureMessage"]


def test_save_kernel_reports_bad_input_in_the_response(api: Api) -> None:
    assert "slug" in api.push("Bad_Slug!", "print(1)")["error"]
    assert "title" in api.ok("kernels.SaveKernel", {"slug": "testuser/no-title", "text": "print(1)"})["error"]
    assert "machineShape" in api.push("odd-shape", "print(1)", machineShape="QuantumChip")["error"]
    r = api.push(
        "sources",
        "print(1)",
        datasetDataSources=["testuser/nope"],
        competitionDataSources=["nope-comp"],
        kernelDataSources=["testuser/missing"],
        modelDataSources=["google/gemma/pytorch/2b/1"],
    )
    assert r["invalidDatasetSources"] == ["testuser/nope"]
    assert r["invalidCompetitionSources"] == ["nope-comp"]
    assert r["invalidKernelSources"] == ["testuser/missing"]
    assert r["invalidModelSources"] == ["google/gemma/pytorch/2b/1"]
    assert (
        api.call("kernels.SaveKernel", {"slug": "someoneelse/kern", "newTitle": "Other user", "text": "1"}).status_code
        == 403
    )


def test_gpu_request_fails_fast_without_a_gpu(api: Api, emulator) -> None:
    emulator.kernels.executor.gpus = 0
    api.push("wants-gpu", "print('ran')", machineShape="NvidiaTeslaT4")
    st = api.wait("wants-gpu", timeout=5)
    assert st["status"] == "ERROR"
    assert "GPU T4 x2" in st["failureMessage"] and "--fallback-cpu" in st["failureMessage"]
    api.push("wants-tpu", "print('ran')", machineShape="TpuV38")  # retired: runs as v5e-8
    assert "TPU v5e-8" in api.wait("wants-tpu", timeout=5)["failureMessage"]


def test_a_tpu_request_that_pins_a_docker_image_runs_on_the_cpu(api: Api, emulator) -> None:
    """Kaggle's TPU VMs have no docker image: such a push lands on the CPU image, without an error."""
    emulator.kernels.executor.tpu = False  # no TPU here either: only a CPU session completes
    code = "import os; print('gpu' if os.environ.get('CUDA_VISIBLE_DEVICES') else 'cpu', os.environ.get('TPU_NAME'))"
    r = api.push("pinned-tpu", code, machineShape="TpuV5E8", dockerImage="gcr.io/kaggle-images/python:v160")
    assert not r.get("error")
    assert api.wait("pinned-tpu", timeout=30)["status"] == "COMPLETE"
    api.push("plain-tpu", code, machineShape="TpuV5E8")
    assert "TPU v5e-8" in api.wait("plain-tpu", timeout=30)["failureMessage"]


def test_fallback_cpu_runs_accelerator_kernels_and_counts_quota(make_emulator) -> None:
    em = make_emulator(fallback_cpu=True)
    em.kernels.executor.gpus = 0
    c = creds(em)
    api = Api(em.url, c["username"], c["key"])
    api.push(
        "gpu-on-cpu",
        "import os, time\ntime.sleep(1.2)\nprint(os.environ['KAGGLE_EMULATOR_FALLBACK_CPU'])",
        machineShape="NvidiaTeslaT4",
    )
    assert api.wait("gpu-on-cpu")["status"] == "COMPLETE"
    quota = api.ok("kernels.GetAcceleratorQuotaStatistics", {})
    assert 1 <= int(quota["gpuQuota"]["timeUsed"].rstrip("s")) <= 30  # the 1.2 s run, plus start-up under load
    assert quota["tpuQuota"]["timeUsed"] == "0s" and quota["gpuQuota"]["totalTimeAllowed"] == "108000s"


def test_cancel_stops_the_process_within_five_seconds(api: Api, emulator) -> None:
    api.push("sleeper", SLEEPER)
    api.wait("sleeper", until=("RUNNING",))
    session = emulator.store.state["kernels"]["testuser/sleeper"]["versions"][0]["sessionId"]
    pids = _session_pids(emulator, "sleeper")
    started = time.time()
    assert "errorMessage" not in api.ok("kernels.CancelKernelSession", {"kernelSessionId": session})
    assert api.wait("sleeper", timeout=5)["status"] == "CANCEL_ACKNOWLEDGED"
    assert time.time() - started < 5
    assert not any(_alive(pid) for pid in pids)
    again = api.ok("kernels.CancelKernelSession", {"kernelSessionId": session})
    assert "already ended" in again["errorMessage"]
    assert api.call("kernels.CancelKernelSession", {"kernelSessionId": 999}).status_code == 404


def test_session_timeout_ends_cancelled_as_on_kaggle(api: Api) -> None:
    api.push("too-slow", SLEEPER, sessionTimeoutSeconds=1)
    st = api.wait("too-slow", timeout=10)
    assert st["status"] == "CANCEL_ACKNOWLEDGED" and "failureMessage" not in st


def test_the_default_caps_are_kaggles_per_accelerator(make_emulator) -> None:
    """Kaggle's caps as 2026 users quote them: a sixth CPU session and a second TPU session are refused; Kaggle's
    internal T4 pool is not there for a user at all."""
    em = make_emulator(fallback_cpu=True)  # the TPU session runs here on the CPU, and holds its slot
    c = creds(em)
    api = Api(em.url, c["username"], c["key"])
    for n in range(5):
        assert api.push(f"cpu-{n}", "import time; time.sleep(4)")["versionNumber"] == 1
    assert api.push("cpu-5", "print(6)")["error"] == "Maximum batch CPU session count of 5 reached."
    assert api.push("tpu-one", "import time; time.sleep(4)", machineShape="TpuV5E8")["versionNumber"] == 1
    assert (
        api.push("tpu-two", "print(2)", machineShape="TpuV5E8")["error"]
        == "Maximum batch TPU session count of 1 reached."
    )
    admin = api.push("t4-highmem", "print(1)", machineShape="NvidiaTeslaT4Highmem")  # Kaggle's internal pool
    assert admin["error"] == "machineShape NvidiaTeslaT4Highmem is not available to this account"


def test_a_push_over_the_session_cap_is_refused_as_on_kaggle(make_emulator) -> None:
    em = make_emulator(settings={"max_sessions": {"cpu": 1, "gpu": 2, "tpu": 1}})
    em.kernels.executor.gpus = 2
    c = creds(em)
    api = Api(em.url, c["username"], c["key"])
    for slug in ("gpu-one", "gpu-two"):
        assert api.push(slug, "import time; time.sleep(3)", machineShape="NvidiaTeslaT4")["versionNumber"] == 1
    third = api.push("gpu-three", "print('third')", machineShape="NvidiaTeslaT4")
    assert third["error"] == "Maximum batch GPU session count of 2 reached."  # HTTP 200, Kaggle's wording
    assert "versionNumber" not in third and "testuser/gpu-three" not in em.store.state["kernels"]  # nothing queued
    assert api.push("cpu-one", "print('a CPU session is capped apart')")["versionNumber"] == 1
    assert api.wait("gpu-one")["status"] == "COMPLETE"
    assert api.push("gpu-three", "print('third')", machineShape="NvidiaTeslaT4")["versionNumber"] == 1  # a slot freed


def test_a_refused_push_replaces_the_source_but_makes_no_version(make_emulator) -> None:
    """As reported on Kaggle (docs/kaggle-facts.md): the kernel's source is the refused push's, its version number
    and each version's own source stay, and a refused first push of a new slug makes nothing."""
    em = make_emulator(settings={"max_sessions": {"cpu": 1, "gpu": 2, "tpu": 1}})
    c = creds(em)
    api = Api(em.url, c["username"], c["key"])
    api.push("busy", "import time; time.sleep(3)")
    assert api.push("busy", "print('refused')")["error"] == "Maximum batch CPU session count of 1 reached."
    assert api.push("brand-new", "print('refused too')")["error"].startswith("Maximum batch CPU")
    assert "testuser/brand-new" not in em.store.state["kernels"]
    newest = api.ok("kernels.GetKernel", {"userName": "testuser", "kernelSlug": "busy"})
    assert newest["blob"]["source"] == "print('refused')" and newest["metadata"]["currentVersionNumber"] == 1
    v1 = api.ok("kernels.GetKernel", {"userName": "testuser", "kernelSlug": "busy", "versionLabel": "v1"})
    assert v1["blob"]["source"] == "import time; time.sleep(3)"  # the queued run keeps the code it had
    assert api.wait("busy")["status"] == "COMPLETE"
    assert api.push("busy", "print('v2')")["versionNumber"] == 2
    after = api.ok("kernels.GetKernel", {"userName": "testuser", "kernelSlug": "busy"})
    assert after["blob"]["source"] == "print('v2')"


def test_queueing_over_the_cap_is_a_named_leniency(make_emulator) -> None:
    em = make_emulator(settings={"max_sessions": {"cpu": 1, "gpu": 1, "tpu": 1}, "queue_over_cap": True})
    c = creds(em)
    api = Api(em.url, c["username"], c["key"])
    api.push("first", "import time; time.sleep(3)")
    api.wait("first", until=("RUNNING",))
    api.push("second", "print('second')")
    time.sleep(0.3)
    assert api.status("second").get("status", "QUEUED") == "QUEUED"
    assert api.wait("second")["status"] == "COMPLETE"
    assert api.status("first")["status"] == "COMPLETE"


def test_one_owners_sessions_never_hold_another_owners_back(make_emulator, tmp_path: Path) -> None:
    """Caps counted every owner's sessions together: one user's queue kept everyone else's pushes QUEUED."""
    from kaggle_runner.emulator.seed import init_state

    state = tmp_path / "shared"
    init_state(state, {"max_sessions": {"cpu": 1, "gpu": 1, "tpu": 1}, "queue_over_cap": True})
    config = json.loads((state / "config.json").read_text())
    config["users"].append({"username": "alice", "key": "1" * 32, "id": 2, "tokens": []})
    (state / "config.json").write_text(json.dumps(config))
    em = make_emulator(state)
    me, alice = Api(em.url, "testuser", creds(em)["key"]), Api(em.url, "alice", "1" * 32)
    for slug in ("mine-1", "mine-2"):
        me.push(slug, "import time; time.sleep(5)")
    me.wait("mine-1", until=("RUNNING",))
    body = {"slug": "alice/hers", "newTitle": "Her Kernel", "text": "print('hers')", "language": "python"}
    assert alice.ok("kernels.SaveKernel", {**body, "kernelType": "script", "isPrivate": True})["versionNumber"] == 1
    status = alice.ok("kernels.GetKernelSessionStatus", {"userName": "alice", "kernelSlug": "hers"})
    deadline = time.time() + 3
    while status.get("status") not in ("COMPLETE", "ERROR") and time.time() < deadline:
        time.sleep(0.05)
        status = alice.ok("kernels.GetKernelSessionStatus", {"userName": "alice", "kernelSlug": "hers"})
    assert status["status"] == "COMPLETE"  # while testuser's first still runs and their second waits
    assert me.status("mine-2").get("status", "QUEUED") == "QUEUED"


def test_output_pages_and_files_download(api: Api, tmp_path: Path) -> None:
    api.push("many-files", "import os\nfor i in range(25):\n    open(f'f{i:02d}.txt', 'w').write(str(i))\n")
    api.wait("many-files")
    names, token, pages = [], "", 0
    while True:
        page = api.ok(
            "kernels.ListKernelSessionOutput",
            {"userName": "testuser", "kernelSlug": "many-files", "pageSize": 10, "pageToken": token},
        )
        assert ("log" in page) == (token == "")  # the log comes with the first page only
        names += [f["fileName"] for f in page["files"]]
        pages += 1
        token = page["nextPageToken"]
        if not token:
            break
    assert pages == 3 and names == [f"f{i:02d}.txt" for i in range(25)]
    url = api.ok("kernels.ListKernelSessionOutput", {"userName": "testuser", "kernelSlug": "many-files"})["files"][3][
        "url"
    ]
    r = requests.get(url, timeout=10)  # signed URL: no credentials needed
    assert r.text == "3" and r.headers["Content-Length"] == "1" and r.headers["Last-Modified"].endswith("GMT")
    part = requests.get(url, headers={"Range": "bytes=0-0"}, timeout=10)
    assert part.status_code == 206
    assert requests.get(url.replace("/files/", "/files/0000"), timeout=10).status_code in (403, 404)


def test_output_urls_expire_and_a_fresh_listing_serves_again(api: Api, emulator) -> None:
    api.push("expiring", "open('submission.csv', 'w').write('id,toxic\\n1,0.5\\n')\n")
    api.wait("expiring")
    emulator.store.settings["file_url_seconds"] = 1

    def url() -> str:
        return api.ok("kernels.ListKernelSessionOutput", {"userName": "testuser", "kernelSlug": "expiring"})["files"][
            0
        ]["url"]

    old = url()
    assert requests.get(old, timeout=10).status_code == 200
    time.sleep(2.1)
    expired = requests.get(old, timeout=10)
    assert expired.status_code == 403 and "expired" in expired.text
    tampered = (
        old.split("/files/")[0]
        + "/files/"
        + "/".join(p if i != 1 else "9999999999" for i, p in enumerate(old.split("/files/")[1].split("/")))
    )
    assert requests.get(tampered, timeout=10).status_code == 403  # a later expiry is not the signed one
    assert requests.get(url(), timeout=10).text == "id,toxic\n1,0.5\n"


def test_live_log_stream_is_sse_then_json(api: Api) -> None:
    api.push("streamer", "import time\nfor i in range(3):\n    print(i, flush=True); time.sleep(0.3)\n")
    api.wait("streamer", until=("RUNNING",))
    r = requests.get(f"{api.url}/v1/kernels/logs/stream/testuser/streamer", auth=api.auth, stream=True, timeout=30)
    assert r.headers["Content-Type"] == "text/event-stream"
    lines = [ln for ln in r.iter_lines(decode_unicode=True) if ln.startswith("data:")]
    assert lines[-1] == "data: END_OF_LOG" and len(lines) == 4
    done = requests.get(
        f"{api.url}/v1/kernels/logs/stream/testuser/streamer?versionLabel=v1", auth=api.auth, timeout=10
    )
    assert done.headers["Content-Type"] == "application/json"
    assert [e["data"] for e in done.json()] == ["0\n", "1\n", "2\n"]


LIST_INPUTS = "import os\nfor d, _, fs in sorted(os.walk('/kaggle/input')):\n    print('IN', d, sorted(fs))\n"


@pytest.mark.parametrize(
    "layout, where",
    [
        ("2026", ["competitions/tiny-toxic", "datasets/testuser/layout-data", "notebooks/testuser/producer"]),
        ("legacy", ["tiny-toxic", "layout-data", "producer"]),
    ],
)
def test_inputs_are_mounted_in_the_layout_of_the_setting(make_emulator, layout: str, where: list[str]) -> None:
    em = make_emulator(settings={"input_layout": layout})
    c = creds(em)
    api = Api(em.url, c["username"], c["key"])
    api.create_dataset("layout-data", {"data.csv": b"x\n1\n"})
    api.push("producer", "open('model.txt', 'w').write('weights')")
    assert api.wait("producer")["status"] == "COMPLETE"
    api.push(
        "reader",
        LIST_INPUTS,
        competitionDataSources=["tiny-toxic"],
        datasetDataSources=["testuser/layout-data"],
        kernelDataSources=["testuser/producer"],
    )
    assert api.wait("reader")["status"] == "COMPLETE"
    log = api.ok("kernels.ListKernelSessionOutput", {"userName": "testuser", "kernelSlug": "reader"})["log"]
    seen = {e["data"].split()[1]: e["data"] for e in json.loads(log) if e["data"].startswith("IN ")}
    assert "'train.csv'" in seen[f"/kaggle/input/{where[0]}"]
    assert "['data.csv']" in seen[f"/kaggle/input/{where[1]}"]
    assert "['model.txt']" in seen[f"/kaggle/input/{where[2]}"]
    mounted = {d for d, line in seen.items() if "[]" not in line}
    assert mounted == {f"/kaggle/input/{w}" for w in where}  # nothing else, in the other layout or beside it


def test_an_unknown_input_layout_is_one_clear_error(tmp_path: Path) -> None:
    from kaggle_runner.emulator.seed import init_state
    from kaggle_runner.emulator.store import StateError, Store

    init_state(tmp_path / "s", {"input_layout": "flat"})
    with pytest.raises(StateError, match="input_layout must be one of 2026, legacy"):
        Store(tmp_path / "s")


def test_kernels_read_other_kernels_output(api: Api) -> None:
    api.push("producer", "open('model.txt', 'w').write('weights')")
    api.wait("producer")
    api.push(
        "consumer",
        "print(open('/kaggle/input/notebooks/testuser/producer/model.txt').read())",
        kernelDataSources=["testuser/producer"],
    )
    assert api.wait("consumer")["status"] == "COMPLETE"
    log = api.ok("kernels.ListKernelSessionOutput", {"userName": "testuser", "kernelSlug": "consumer"})["log"]
    assert "weights" in log


def test_inputs_are_read_only_and_secrets_are_not_passed(api: Api, monkeypatch) -> None:
    monkeypatch.setenv("KAGGLE_KEY", "0" * 32)  # the emulator's own environment holds a credential
    monkeypatch.setenv("KAGGLE_API_TOKEN", "0" * 32)
    api.push(
        "poker",
        "import os\n"
        "try:\n    open('/kaggle/input/competitions/tiny-toxic/x', 'w')\n"
        "except OSError as e:\n    print('refused', e.errno)\n"
        "print('key', os.environ.get('KAGGLE_KEY'), os.environ.get('KAGGLE_API_TOKEN'))",
        competitionDataSources=["tiny-toxic"],
    )
    api.wait("poker")
    log = api.ok("kernels.ListKernelSessionOutput", {"userName": "testuser", "kernelSlug": "poker"})["log"]
    assert "refused 30" in log and "key None None" in log  # 30: EROFS


def test_restart_turns_running_and_queued_sessions_into_errors(make_emulator, tmp_path: Path) -> None:
    em = make_emulator(settings={"max_sessions": {"cpu": 1, "gpu": 1, "tpu": 1}, "queue_over_cap": True})
    c = creds(em)
    api = Api(em.url, c["username"], c["key"])
    api.push("interrupted", SLEEPER)
    pids = _session_pids(em, "interrupted")
    api.push("queued", "print('never run')")
    assert api.status("queued").get("status", "QUEUED") == "QUEUED"
    em.stop()
    assert not any(_alive(pid) for pid in pids)
    em2 = make_emulator(state=em.store.root)
    api2 = Api(em2.url, c["username"], c["key"])
    for slug in ("interrupted", "queued"):
        st = api2.status(slug)
        assert st["status"] == "ERROR" and "shut down" in st["failureMessage"], st
    log = api2.ok("kernels.ListKernelSessionOutput", {"userName": "testuser", "kernelSlug": "interrupted"})["log"]
    assert "pid 2" in log  # the kernel is PID 2 of its session: init is 1


def test_list_get_and_delete_kernels(api: Api) -> None:
    api.push("listed-one", "print(1)", isPrivate=False)
    api.push("listed-two", "print(2)")
    mine = api.ok("kernels.ListKernels", {"group": "PROFILE", "pageSize": 1})
    assert len(mine["kernels"]) == 1 and mine["nextPageToken"]
    found = api.ok("kernels.ListKernels", {"search": "two"})["kernels"]
    assert [k["ref"] for k in found] == ["testuser/listed-two"]
    got = api.ok("kernels.GetKernel", {"userName": "testuser", "kernelSlug": "listed-two"})
    assert got["blob"]["source"] == "print(2)" and got["metadata"]["ref"] == "testuser/listed-two"
    api.ok("kernels.DeleteKernel", {"userName": "testuser", "kernelSlug": "listed-two"})
    assert api.call("kernels.GetKernel", {"userName": "testuser", "kernelSlug": "listed-two"}).status_code == 404


def _session_pids(emulator, slug: str) -> list[int]:
    """Host pids of a running session (its launcher's process group), once the kernel has printed its pid."""
    for _ in range(200):
        live = [s for s in emulator.kernels.executor.live.values() if s.version.get("number") and s.proc]
        session = next((s for s in live if s.run_dir.parent.name == slug), None)
        if session and any("pid " in e["data"] for e in session.events):
            group = session.proc.pid
            pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _group(p) == group]
            assert len(pids) >= 3  # launcher, the session's init, the kernel
            return pids
        time.sleep(0.05)
    raise AssertionError("kernel never printed its pid")


def _group(proc: Path) -> int | None:
    try:
        return int(proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[2])
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone for our purposes once it has no state 'R'/'S'.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_unconfined_kernels_get_env_paths_and_a_hint(make_emulator) -> None:
    em = make_emulator(unconfined=True)  # as `serve --unconfined` on a machine without namespaces
    c = creds(em)
    api = Api(em.url, c["username"], c["key"])
    api.push(
        "portable",
        "import os\nprint(sorted(os.listdir(os.environ['KAGGLE_INPUT_DIR'] + '/competitions/tiny-toxic')))\n"
        "open(os.path.join(os.environ['KAGGLE_WORKING_DIR'], 'out.txt'), 'w').write('ok')",
        competitionDataSources=["tiny-toxic"],
    )
    assert api.wait("portable")["status"] == "COMPLETE"
    files = api.ok("kernels.ListKernelSessionOutput", {"userName": "testuser", "kernelSlug": "portable"})["files"]
    assert [f["fileName"] for f in files] == ["out.txt"]
    hardcoded = "open('/kaggle/input/competitions/tiny-toxic/train.csv')"
    api.push("hardcoded", hardcoded, competitionDataSources=["tiny-toxic"])
    st = api.wait("hardcoded")
    assert st["status"] == "ERROR" and "KAGGLE_INPUT_DIR" in st["failureMessage"]


def test_the_persisted_log_is_empty_until_the_session_ends(api: Api) -> None:
    api.push("quiet-log", "import time\nprint('hello', flush=True)\ntime.sleep(2)\n")
    api.wait("quiet-log", until=("RUNNING",))
    body = {"userName": "testuser", "kernelSlug": "quiet-log"}
    r = requests.get(f"{api.url}/v1/kernels/logs/stream/testuser/quiet-log", auth=api.auth, stream=True, timeout=30)
    first = next(line for line in r.iter_lines(chunk_size=1) if line.startswith(b"data:"))
    r.close()
    assert b"hello" in first  # the live log is the stream
    assert api.ok("kernels.ListKernelSessionOutput", body)["log"] == ""  # as on Kaggle while it runs
    api.wait("quiet-log")
    assert "hello" in api.ok("kernels.ListKernelSessionOutput", body)["log"]


CALLS_THE_API = """import os, time
from kagglesdk import KaggleClient
from kagglesdk.kernels.types.kernels_api_service import ApiGetKernelRequest
print("token file", os.environ["KAGGLE_API_V1_TOKEN"], flush=True)
req = ApiGetKernelRequest()
req.user_name, req.kernel_slug = "testuser", "caller"
with KaggleClient() as k:  # no credentials given: kagglesdk finds the session's own, as in a Kaggle notebook
    print("title", k.kernels.kernels_api_client.get_kernel(req).metadata.title, flush=True)
print("token", open(os.environ["KAGGLE_API_V1_TOKEN"]).read(), flush=True)
"""


def test_a_kernel_with_internet_calls_the_api_with_a_credential_of_its_session(api: Api, emulator) -> None:
    api.push("caller", CALLS_THE_API, enableInternet=True, title="Caller Kernel")
    assert api.wait("caller")["status"] == "COMPLETE", api.status("caller")
    log = api.ok("kernels.ListKernelSessionOutput", {"userName": "testuser", "kernelSlug": "caller"})["log"]
    text = "".join(e["data"] for e in json.loads(log))
    assert "token file /kaggle/secrets/api-v1-token" in text and "title Caller Kernel" in text
    token = text.split("token ")[-1].split()[0]
    assert token.startswith("KGAT_")
    r = requests.post(
        f"{emulator.url}/v1/kernels.KernelsApiService/ListKernels",
        json={},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert r.status_code == 401  # scoped to the session: refused once it has ended
    assert token not in (emulator.store.root / "state.json").read_text()


def test_a_kernel_without_internet_gets_no_credential(api: Api) -> None:
    api.push(
        "offline",
        "import os\nprint(sorted(k for k in os.environ if 'TOKEN' in k or 'PROXY' in k))\n",
        enableInternet=False,
    )
    assert api.wait("offline")["status"] == "COMPLETE"
    log = api.ok("kernels.ListKernelSessionOutput", {"userName": "testuser", "kernelSlug": "offline"})["log"]
    assert "[]" in "".join(e["data"] for e in json.loads(log))


def test_a_sessions_token_is_refused_before_its_final_status_shows(api: Api, emulator, monkeypatch) -> None:
    """A client that uses the token as soon as it reads COMPLETE must be refused: the token is revoked first."""
    seen: list[tuple[str, bool]] = []
    save = emulator.store.save

    def watched() -> None:
        for kernel in emulator.store.state["kernels"].values():
            for version in kernel["versions"]:
                seen.append((version.get("status", "QUEUED"), bool(emulator.store.session_tokens)))
        save()

    monkeypatch.setattr(emulator.store, "save", watched)
    api.push("caller", CALLS_THE_API, enableInternet=True, title="Caller Kernel")
    assert api.wait("caller")["status"] == "COMPLETE"
    assert ("COMPLETE", False) in seen and ("COMPLETE", True) not in seen


def test_a_kernel_that_leaves_a_deep_tree_behind_does_not_hold_its_slot(make_emulator) -> None:
    """shutil.rmtree recurses once per level: 1,100 nested folders in /tmp raised RecursionError in the session's
    end, which then never gave its slot back, and every later push of any user stayed QUEUED."""
    emulator = make_emulator(settings={"max_sessions": {"cpu": 1, "gpu": 2, "tpu": 1}})
    c = creds(emulator)
    api = Api(emulator.url, c["username"], c["key"])
    deep = "import os\nos.chdir('/tmp')\nfor _ in range(1100):\n    os.mkdir('d')\n    os.chdir('d')\nprint('deep')\n"
    try:
        api.push("deep", deep, enableInternet=False)
        assert api.wait("deep")["status"] == "COMPLETE"
        api.push("after", "print('after')\n", enableInternet=False)
        assert api.wait("after", timeout=60)["status"] == "COMPLETE"
        assert not any((emulator.store.root / "kernels").glob("*/*/tmp/d"))  # the tree was removed all the same
    finally:  # pytest's own clean-up of old temporary folders is recursive too: never leave the tree behind
        subprocess.run(["rm", "-rf", str(emulator.store.root / "kernels")], check=False)


ODD_OUTPUTS = r"""import os
open("submission.csv", "w").write("id,toxic\n1,0.5\n")
os.close(os.open(b"not-utf8-\xff.txt", os.O_CREAT | os.O_WRONLY))
os.symlink("/etc/hostname", "link.txt")
for _ in range(1100):
    os.mkdir("d")
    os.chdir("d")
open("deep.txt", "w").write("at the bottom\n")
"""


def test_the_output_listing_survives_odd_names_deep_folders_and_links(api: Api, emulator) -> None:
    """One name that is not UTF-8, or a folder 1,100 deep, made the listing a 500 for good: the run's
    submission.csv could never be fetched. A link was followed, which told whether a host path exists."""
    try:
        api.push("odd", ODD_OUTPUTS, enableInternet=False)
        assert api.wait("odd")["status"] == "COMPLETE"
        listing = api.ok("kernels.ListKernelSessionOutput", {"userName": "testuser", "kernelSlug": "odd"})
        names = [f["fileName"] for f in listing["files"]]
        assert names == ["/".join(["d"] * 1100 + ["deep.txt"]), "submission.csv"], names[-1:]
        submission = next(f["url"] for f in listing["files"] if f["fileName"] == "submission.csv")
        assert requests.get(submission, timeout=10).text == "id,toxic\n1,0.5\n"
    finally:  # pytest's clean-up of old temporary folders is recursive: never leave the tree behind
        subprocess.run(["rm", "-rf", str(emulator.store.root / "kernels")], check=False)
