"""Findings of the adversarial run (the hardening issue), one by one: each bad input ends in one clear line and a
non-zero exit with nothing recorded lost, and one bad output file does not keep a run's other outputs back."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import requests

from helpers import creds
from kaggle_runner.ledger import open_ledger

KERNEL_OK = "print('hello')\n"


def _project(root: Path, kernels_yaml: str = "  main: {folder: k, entry: main.py, title: Main Kernel}\n") -> Path:
    (root / "k").mkdir(parents=True, exist_ok=True)
    (root / "k" / "main.py").write_text(KERNEL_OK)
    (root / "kr.yaml").write_text("competition: tiny-toxic\nkernels:\n" + kernels_yaml)
    return root


def _one_line(r, *needles: str) -> None:
    assert r.returncode != 0, r.stdout
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("kr: error: "), r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr


# -- 3. names kr.yaml accepted but versions could not address ------------------------------------------------
@pytest.mark.parametrize("name", ["my kernel", "ünïcødé", "a:b", "../../x", "-x"])
def test_kernel_names_a_version_cannot_address_are_refused_at_load(tmp_path: Path, make_kr, name: str) -> None:
    _project(tmp_path, f"  {json.dumps(name)}: {{folder: k, entry: main.py, title: Main Kernel}}\n")
    _one_line(make_kr(tmp_path)("ls", check=None), f"kernels.{name}", "is not a usable name")


@pytest.mark.parametrize(
    "spec, key",
    [
        ("{folder: ../../etc, entry: passwd, title: Main Kernel}", "kernels.main.folder"),
        ("{folder: k, entry: ../../../etc/passwd, title: Main Kernel}", "kernels.main.entry"),
    ],
)
def test_kernel_folders_and_entries_must_lie_inside_the_project(tmp_path: Path, make_kr, spec: str, key: str) -> None:
    _project(tmp_path / "p", f"  main: {spec}\n")
    _one_line(make_kr(tmp_path / "p")("ls", check=None), key, "is outside")


def test_dataset_globs_reaching_outside_are_refused(tmp_path: Path, make_kr) -> None:
    _project(tmp_path)
    with open(tmp_path / "kr.yaml", "a") as f:
        f.write("datasets:\n  bits: {paths: ['../secrets/*']}\n")
    _one_line(make_kr(tmp_path)("ls", check=None), "datasets.bits.paths[0]", "reaches outside the project")


# -- 10 and 12. version texts, kr.yaml encodings and duplicate keys ------------------------------------------------
@pytest.mark.parametrize("text", ["v١", "v99999999999999999999999", "main:v1:v2"])
def test_odd_version_texts_are_one_line(tmp_path: Path, make_kr, text: str) -> None:
    _project(tmp_path)
    _one_line(make_kr(tmp_path)("show", text, check=None), "is not a version")


def test_a_kr_yaml_that_is_not_utf8_is_one_line(tmp_path: Path, make_kr) -> None:
    _project(tmp_path)
    (tmp_path / "kr.yaml").write_bytes("competition: caf\xe9\n".encode("latin-1"))
    _one_line(make_kr(tmp_path)("ls", check=None), "kr.yaml: not UTF-8 text")


def test_duplicate_yaml_keys_are_refused_not_last_wins(tmp_path: Path, make_kr) -> None:
    _project(tmp_path)
    (tmp_path / "kr.yaml").write_text(
        "kernels:\n  main: {folder: k, entry: main.py, title: Main Kernel}\n"
        "  main: {folder: k, entry: other.py, title: Other Kernel}\n"
    )
    _one_line(make_kr(tmp_path)("ls", check=None), "kr.yaml: line 3: key 'main' appears twice")


def test_a_binary_entry_file_is_one_line(tmp_path: Path, make_kr, emulator) -> None:
    _project(tmp_path)
    (tmp_path / "k" / "main.py").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    _one_line(make_kr(tmp_path, emulator)("push", check=None), "kernels.main.entry", "not UTF-8")


# -- 9. an empty ledger file ---------------------------------------------------------------------------------------
def test_an_empty_ledger_file_is_refused_not_taken_as_new(tmp_path: Path, make_kr) -> None:
    _project(tmp_path)
    (tmp_path / ".kr").mkdir()
    (tmp_path / ".kr" / "ledger.sqlite").write_bytes(b"")
    _one_line(make_kr(tmp_path)("ls", check=None), "the ledger file is empty (0 bytes)")
    assert (tmp_path / ".kr" / "ledger.sqlite").stat().st_size == 0  # left as it was, for the user to restore


def test_a_new_ledger_is_never_an_empty_file(tmp_path: Path) -> None:
    open_ledger(tmp_path).close()
    path = tmp_path / ".kr" / "ledger.sqlite"
    assert path.stat().st_size > 0 and [p.name for p in path.parent.iterdir() if p.name.endswith(".new")] == []
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] >= 3


# -- 12. an interrupted push shows in kr ls -----------------------------------------------------------------------
def test_ls_shows_a_push_in_flight_or_cut_off(tmp_path: Path, make_kr) -> None:
    _project(tmp_path)
    ledger = open_ledger(tmp_path)
    ledger.begin_push("main", "testuser/main", "cpu", "", "cut off", None, False, {}, {})
    ledger.close()
    rows = json.loads(make_kr(tmp_path)("ls", "--json").stdout)
    assert [(r["status"], r["message"]) for r in rows] == [("PUSHING", "cut off")]


# -- 12. kr plot -o DIR/ --------------------------------------------------------------------------------------------
def test_plot_to_a_folder_is_refused_instead_of_writing_dir_png(tmp_path: Path, make_kr) -> None:
    _project(tmp_path)
    _one_line(make_kr(tmp_path)("plot", "--scores", "-o", "plots/", check=None), "plots/ is a folder")
    assert not (tmp_path / "plots.png").exists()


# -- 12. an unreachable URL fails in seconds ----------------------------------------------------------------------
def test_nothing_listening_fails_after_three_quick_attempts(tmp_path: Path, make_kr) -> None:
    _project(tmp_path)
    kr = make_kr(tmp_path)
    r = kr(
        "push",
        check=None,
        env={
            "KR_KAGGLE_URL": "http://127.0.0.1:9",
            "KAGGLE_USERNAME": "testuser",
            "KAGGLE_KEY": "0" * 32,
            "KR_RETRY_BASE_SECONDS": "0.01",
        },
    )
    _one_line(r, "cannot reach http://127.0.0.1:9 (connection refused) after 3 attempts")


# -- 11. the emulator's answers to hostile requests ---------------------------------------------------------------
def test_deeply_nested_json_is_a_400_not_a_500(emulator) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    c = creds(emulator)
    r = requests.post(
        f"{emulator.url}/v1/kernels.KernelsApiService/GetKernel",
        data=body,
        timeout=30,
        auth=(c["username"], c["key"]),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400 and "nested too deeply" in r.json()["message"]


def test_download_of_a_host_path_answers_like_a_missing_file(api, emulator) -> None:
    token = api.upload("a.csv", b"x,y\n1,2\n")
    api.ok(
        "datasets.CreateDataset",
        {
            "ownerSlug": "testuser",
            "slug": "probe-me",
            "title": "Probe Me",
            "files": [{"token": token}],
            "isPrivate": True,
        },
    )
    for _ in range(100):
        if (
            api.ok("datasets.GetDatasetStatus", {"ownerSlug": "testuser", "datasetSlug": "probe-me"})["status"]
            == "READY"
        ):
            break
        __import__("time").sleep(0.05)
    answers = {}
    for name in ("/etc/passwd", "/etc/no-such-file", "../../../../etc/passwd", "a.csv"):
        r = api.call("datasets.DownloadDataset", {"ownerSlug": "testuser", "datasetSlug": "probe-me", "fileName": name})
        answers[name] = r.status_code
    assert answers == {"/etc/passwd": 404, "/etc/no-such-file": 404, "../../../../etc/passwd": 404, "a.csv": 200}


# -- 7. kr submit refuses inf before any upload -------------------------------------------------------------------
def test_submit_refuses_infinity_like_merge_before_uploading(tmp_path: Path, make_kr, emulator) -> None:
    _project(tmp_path)
    sample = (emulator.store.root / "competitions" / "tiny-toxic" / "data" / "sample_submission.csv").read_text()
    lines = sample.splitlines()
    bad = lines[:2] + [lines[2].split(",")[0] + ",inf"] + lines[3:]
    (tmp_path / "inf.csv").write_text("\n".join(bad) + "\n")
    before = len(emulator.requests)
    _one_line(make_kr(tmp_path, emulator)("submit", "inf.csv", check=None), "line 3: column 'toxic' is infinite")
    assert not any("Submission" in q["route"] for q in emulator.requests[before:])


def test_scores_name_kr_own_file_submissions_by_their_file(tmp_path: Path, make_kr, emulator) -> None:
    _project(tmp_path)
    kr = make_kr(tmp_path, emulator)
    sample = (emulator.store.root / "competitions" / "tiny-toxic" / "data" / "sample_submission.csv").read_text()
    (tmp_path / "by-hand.csv").write_text(sample)
    kr("submit", "by-hand.csv", "-m", "hand made")
    rows = json.loads(kr("scores", "--json").stdout)
    assert [r["source"] for r in rows] == ["by-hand.csv"]


# -- 6. one bad output file does not block a run ------------------------------------------------------------------
BAD_OUTPUTS = r"""import os
open("submission.csv", "w").write("id,toxic\n000001,0.5\n")
open("..\\..\\x.txt", "w").write("a name that would climb out on Windows\n")
os.symlink("/etc/hostname", "link.txt")
print("done")
"""


def test_refused_names_and_links_are_skipped_and_the_rest_pulled(tmp_path: Path, make_kr, emulator) -> None:
    _project(tmp_path)
    (tmp_path / "k" / "main.py").write_text(BAD_OUTPUTS)
    kr = make_kr(tmp_path, emulator)
    kr("push")
    r = kr("wait", "v1")
    assert (tmp_path / ".kr" / "runs" / "v1" / "submission.csv").read_text() == "id,toxic\n000001,0.5\n"
    assert "skipped output '..\\\\..\\\\x.txt'" in r.stderr and "skipped output 'link.txt'" in r.stderr
    assert not (tmp_path / ".kr" / "runs" / "v1" / "link.txt").exists()
    row = json.loads(kr("ls", "--json").stdout)[0]
    assert row["status"] == "COMPLETE (2 outputs skipped)"
    assert {s["name"] for s in row["skipped"]} == {"..\\..\\x.txt", "link.txt"}
    assert "skipped output 'link.txt'" in kr("show", "v1").stdout


# -- 5. the emulator under load ----------------------------------------------------------------------------------
def test_two_hundred_concurrent_clients_are_all_answered(api, emulator) -> None:
    import threading

    api.push("load", "print(1)\n")
    c = creds(emulator)
    url = f"{emulator.url}/v1/kernels.KernelsApiService/GetKernelSessionStatus"
    body = {"userName": "testuser", "kernelSlug": "load", "versionLabel": "v1"}
    start, results = threading.Barrier(200), []

    def client() -> None:
        start.wait(timeout=30)  # all 200 connect at once, each on a connection of its own
        try:
            r = requests.post(url, json=body, auth=(c["username"], c["key"]), timeout=60)
            results.append(r.status_code)
        except requests.RequestException as e:
            results.append(type(e).__name__)

    threads = [threading.Thread(target=client) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert results == [200] * 200, {r: results.count(r) for r in set(results)}


def test_an_idle_connection_gives_its_thread_back(emulator, monkeypatch) -> None:
    import socket

    from kaggle_runner.emulator import server

    monkeypatch.setattr(server.Handler, "timeout", 0.5)
    host, port = emulator.url.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.settimeout(10)
        assert s.recv(1) == b""  # sent nothing: the server closed the connection instead of waiting for ever
