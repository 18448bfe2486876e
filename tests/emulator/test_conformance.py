"""The official `kaggle` CLI, unmodified, against the emulator: every command exits 0 and what comes
back is byte-identical to what the kernel wrote or the dataset held."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.slow

KERNEL = """
import os, sys
print("reading", sorted(os.listdir("/kaggle/input/competitions/tiny-toxic")))
print("data:", open("/kaggle/input/datasets/testuser/conf-data/data.csv").read().strip())
with open("submission.csv", "w") as f:
    f.write("id,toxic\\n000400,0.25\\n")
os.makedirs("nested/deeper", exist_ok=True)
with open("nested/deeper/blob.bin", "wb") as f:
    f.write(bytes(range(256)) * 40)
print("caf\\u00e9 \\u2713 unicode", flush=True)
print("to stderr", file=sys.stderr)
"""


def write_metadata(folder: Path, meta: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kernel-metadata.json" if "code_file" in meta else folder / "dataset-metadata.json").write_text(
        json.dumps(meta)
    )


def test_official_cli_round_trip(kaggle, api, emulator, tmp_path: Path) -> None:
    # datasets create: files and a folder (zipped by the CLI), including an empty file
    ds = tmp_path / "ds"
    write_metadata(ds, {"title": "Conformance Data", "id": "testuser/conf-data", "licenses": [{"name": "CC0-1.0"}]})
    (ds / "data.csv").write_bytes(b"x,y\n1,2\n")
    (ds / "empty.txt").write_bytes(b"")
    (ds / "images" / "sub").mkdir(parents=True)
    (ds / "images" / "a.bin").write_bytes(bytes(range(256)))
    (ds / "images" / "sub" / "b.txt").write_bytes("h\u00e9llo\n".encode())
    out = kaggle("datasets", "create", "-p", str(ds), "-r", "zip").stdout
    assert "Dataset is being created" in out
    _wait_ready(kaggle)

    # datasets version (folder as tar this time), then status, then download
    (ds / "data.csv").write_bytes(b"x,y\n1,2\n3,4\n")
    assert (
        "Dataset version is being created"
        in kaggle("datasets", "version", "-p", str(ds), "-m", "v2", "-r", "tar").stdout
    )
    _wait_ready(kaggle)
    status = json.loads(kaggle("datasets", "status", "testuser/conf-data", "--format", "json").stdout)
    assert status == {"status": "ready", "current_version_number": 2}
    kaggle("datasets", "download", "testuser/conf-data", "-p", str(tmp_path / "dl"), "--unzip")
    for rel in ("data.csv", "empty.txt", "images/a.bin", "images/sub/b.txt"):
        assert (tmp_path / "dl" / rel).read_bytes() == (ds / rel).read_bytes(), rel

    # kernels push / status / output / logs / pull / list
    kern = tmp_path / "kern"
    write_metadata(
        kern,
        {
            "id": "testuser/conf-kernel",
            "title": "Conf Kernel",
            "code_file": "main.py",
            "language": "python",
            "kernel_type": "script",
            "is_private": True,
            "enable_gpu": False,
            "enable_internet": False,
            "dataset_sources": ["testuser/conf-data"],
            "competition_sources": ["tiny-toxic"],
            "kernel_sources": [],
        },
    )
    (kern / "main.py").write_text(KERNEL)
    assert "Kernel version 1 successfully pushed" in kaggle("kernels", "push", "-p", str(kern)).stdout
    api.wait("conf-kernel", 1)
    assert '"KernelWorkerStatus.COMPLETE"' in kaggle("kernels", "status", "testuser/conf-kernel").stdout

    outdir = tmp_path / "out"
    kaggle("kernels", "output", "testuser/conf-kernel", "-p", str(outdir))
    assert (outdir / "submission.csv").read_bytes() == b"id,toxic\n000400,0.25\n"
    assert (outdir / "nested" / "deeper" / "blob.bin").read_bytes() == bytes(range(256)) * 40
    events = json.loads((outdir / "conf-kernel.log").read_text())
    stdout = "".join(e["data"] for e in events if e["stream_name"] == "stdout")
    assert stdout == (
        "reading ['sample_submission.csv', 'test.csv', 'train.csv']\ndata: x,y\n1,2\n3,4\ncaf\u00e9 \u2713 unicode\n"
    )
    assert [e["data"] for e in events if e["stream_name"] == "stderr"] == ["to stderr\n"]
    assert (
        kaggle("kernels", "logs", "testuser/conf-kernel").stdout.strip()
        == (outdir / "conf-kernel.log").read_text().strip()
    )

    pulled = tmp_path / "pulled"
    kaggle("kernels", "pull", "testuser/conf-kernel", "-p", str(pulled), "-m")
    assert (pulled / "conf-kernel.py").read_text() == KERNEL
    meta = json.loads((pulled / "kernel-metadata.json").read_text())
    assert meta["id"] == "testuser/conf-kernel" and meta["dataset_sources"] == ["testuser/conf-data"]
    listing = kaggle("kernels", "list", "--mine").stdout
    assert "testuser/conf-kernel" in listing and "Conf Kernel" in listing

    # competitions submit / submissions, scored by the emulator
    sub = tmp_path / "sub.csv"
    sub.write_bytes((emulator.store.root / "competitions/tiny-toxic/data/sample_submission.csv").read_bytes())
    out = kaggle("competitions", "submit", "-c", "tiny-toxic", "-f", str(sub), "-m", "all halves").stdout
    assert "Successfully submitted" in out and "submissions remaining today" in out
    listing = _wait_scored(kaggle)
    assert "SubmissionStatus.COMPLETE" in listing and "0.50000" in listing and "all halves" in listing

    # quota
    quota = kaggle("quota").stdout
    assert "GPU" in quota and "30.00h" in quota


def test_official_cli_follows_live_log(kaggle, tmp_path: Path) -> None:
    kern = tmp_path / "live"
    write_metadata(
        kern,
        {
            "id": "testuser/live-kernel",
            "title": "Live Kernel",
            "code_file": "main.py",
            "language": "python",
            "kernel_type": "script",
        },
    )
    (kern / "main.py").write_text(
        "import time\nfor i in range(4):\n    print('tick', i, flush=True)\n    time.sleep(0.3)\n"
    )
    kaggle("kernels", "push", "-p", str(kern))
    followed = kaggle("kernels", "logs", "testuser/live-kernel", "-f").stdout
    assert followed.splitlines() == ["tick 0", "tick 1", "tick 2", "tick 3"]


def test_official_cli_runs_notebooks(kaggle, api, tmp_path: Path) -> None:
    kern = tmp_path / "nb"
    write_metadata(
        kern,
        {
            "id": "testuser/nb-kernel",
            "title": "Notebook Kernel",
            "code_file": "nb.ipynb",
            "language": "python",
            "kernel_type": "notebook",
        },
    )
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": ["# title"], "metadata": {}},
            {
                "cell_type": "code",
                "source": ["x = 6\n", "%matplotlib inline\n", "print(x * 7)"],
                "metadata": {},
                "outputs": [],
                "execution_count": None,
            },
            {
                "cell_type": "code",
                "source": "open('result.txt', 'w').write(str(x))",
                "metadata": {},
                "outputs": [],
                "execution_count": None,
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (kern / "nb.ipynb").write_text(json.dumps(nb))
    kaggle("kernels", "push", "-p", str(kern))
    assert api.wait("nb-kernel")["status"] == "COMPLETE"
    kaggle("kernels", "output", "testuser/nb-kernel", "-p", str(tmp_path / "o"))
    assert (tmp_path / "o" / "result.txt").read_text() == "6"
    assert "42" in (tmp_path / "o" / "nb-kernel.log").read_text()

    # `kernels list` filters are honoured, not ignored with exit 0
    api.push("plot-script", "open('curve.png', 'wb').write(b'png')\n")
    assert api.wait("plot-script")["status"] == "COMPLETE"

    def listed(*flags: str) -> set[str]:
        out = kaggle("kernels", "list", "--user", "testuser", "--csv", *flags).stdout.splitlines()[1:]
        return {line.split(",")[0] for line in out}

    assert listed() == {"testuser/nb-kernel", "testuser/plot-script"}
    assert listed("--kernel-type", "notebook") == {"testuser/nb-kernel"}
    assert listed("--kernel-type", "script") == {"testuser/plot-script"}
    assert listed("--language", "r") == set()
    assert listed("--output-type", "visualization") == {"testuser/plot-script"}
    assert listed("--output-type", "data") == {"testuser/nb-kernel"}
    assert listed("--parent", "testuser/nb-kernel") == set()


def _wait_ready(kaggle) -> None:
    for _ in range(100):
        if kaggle("datasets", "status", "testuser/conf-data").stdout.strip() == "ready":
            return
        time.sleep(0.1)
    raise AssertionError("dataset never became ready")


def _wait_scored(kaggle) -> str:
    for _ in range(100):
        out = kaggle("competitions", "submissions", "tiny-toxic").stdout
        if "PENDING" not in out:
            return out
        time.sleep(0.1)
    raise AssertionError("submission never scored")


def test_official_cli_downloads_a_competition_file(kaggle, emulator, tmp_path: Path) -> None:
    kaggle("competitions", "download", "-c", "tiny-toxic", "-f", "sample_submission.csv", "-p", str(tmp_path / "dl"))
    got = list((tmp_path / "dl").iterdir())
    assert [p.name for p in got] == ["sample_submission.csv"]
    assert (
        got[0].read_bytes() == (emulator.store.root / "competitions/tiny-toxic/data/sample_submission.csv").read_bytes()
    )
    listing = kaggle("competitions", "files", "tiny-toxic", "--csv").stdout.splitlines()[1:]
    assert sorted(line.split(",")[0] for line in listing) == ["sample_submission.csv", "test.csv", "train.csv"]
    kaggle("competitions", "download", "-c", "tiny-toxic", "-p", str(tmp_path / "all"))
    import zipfile

    with zipfile.ZipFile(tmp_path / "all" / "tiny-toxic.zip") as zf:
        assert sorted(zf.namelist()) == ["sample_submission.csv", "test.csv", "train.csv"]  # no solution
        assert zf.read("train.csv") == (emulator.store.root / "competitions/tiny-toxic/data/train.csv").read_bytes()
    hidden = kaggle(
        "competitions", "download", "-c", "tiny-toxic", "-f", "../solution.csv", "-p", str(tmp_path / "x"), check=False
    )
    assert hidden.returncode != 0 and not (tmp_path / "x" / "solution.csv").exists()


CODE_KERNEL = """import csv
rows = list(csv.DictReader(open("/kaggle/input/competitions/tiny-toxic-code/test.csv")))
with open("submission.csv", "w") as f:
    f.write("id,toxic\\n" + "".join(r["id"] + "," + str(int("idiot" in r["comment_text"])) + "\\n" for r in rows))
"""


def test_official_cli_competitions_list_filters_and_sorts(kaggle, api, emulator) -> None:
    """`--category`, `--group entered` and `--sort-by` as the 2.2.5 CLI sends them (kagglesdk's enum names)."""
    code = emulator.store.root / "competitions/tiny-toxic-code/competition.json"
    definition = json.loads(code.read_text())
    code.write_text(json.dumps({**definition, "category": "featured", "reward": "$25,000", "deadline": "2027-01-31"}))

    def listed(*args: str) -> list[str]:
        lines = kaggle("competitions", "list", "--csv", *args).stdout.splitlines()
        return [line.split(",")[0].rsplit("/", 1)[-1] for line in lines[1:]]

    assert listed() == ["tiny-toxic", "tiny-toxic-code"]
    assert listed("--category", "featured") == ["tiny-toxic-code"]
    assert listed("--category", "playground") == ["tiny-toxic"]
    assert listed("--sort-by", "prize") == ["tiny-toxic-code", "tiny-toxic"]
    assert listed("--sort-by", "earliestDeadline")[0] == "tiny-toxic-code"  # 2027-01-31, before 90 days from now
    assert kaggle("competitions", "list", "--group", "entered").stdout.strip() == "No competitions found"
    sample = (emulator.store.root / "competitions/tiny-toxic/data/sample_submission.csv").read_bytes()
    start = api.ok(
        "competitions.StartSubmissionUpload",
        {"competitionName": "tiny-toxic", "fileName": "s.csv", "contentLength": len(sample)},
    )
    assert requests.put(start["createUrl"], data=sample, timeout=10).status_code == 200
    api.ok("competitions.CreateSubmission", {"competitionName": "tiny-toxic", "blobFileTokens": start["token"]})
    assert listed("--group", "entered") == ["tiny-toxic"]


def test_official_cli_competitions_list_leaderboard_and_code_submit(kaggle, api, tmp_path: Path) -> None:
    listing = kaggle("competitions", "list", "-s", "tiny", "--csv").stdout.splitlines()
    assert [line.split(",")[0].rsplit("/", 1)[-1] for line in listing[1:]] == ["tiny-toxic", "tiny-toxic-code"]

    kern = tmp_path / "code"
    meta = {"id": "testuser/code-sub", "title": "Code Submission", "code_file": "main.py", "language": "python"}
    write_metadata(kern, {**meta, "kernel_type": "script", "competition_sources": ["tiny-toxic-code"]})
    (kern / "main.py").write_text(CODE_KERNEL)
    kaggle("kernels", "push", "-p", str(kern))
    assert api.wait("code-sub")["status"] == "COMPLETE"
    out = kaggle(
        "competitions",
        "submit",
        "tiny-toxic-code",
        "-k",
        "testuser/code-sub",
        "-v",
        "1",
        "-f",
        "submission.csv",
        "-m",
        "re-run me",
    ).stdout
    assert "Successfully submitted" in out
    for _ in range(300):
        subs = kaggle("competitions", "submissions", "tiny-toxic-code", "--csv").stdout
        if "PENDING" not in subs:
            break
        time.sleep(0.1)
    assert "COMPLETE" in subs and "re-run me" in subs

    board = kaggle("competitions", "leaderboard", "tiny-toxic-code", "-s", "--csv").stdout.splitlines()
    assert board[0].startswith("teamId") and board[1].split(",")[1] == "testuser"
    kaggle("competitions", "leaderboard", "tiny-toxic-code", "-d", "-p", str(tmp_path / "lb"))
    import zipfile

    with zipfile.ZipFile(tmp_path / "lb" / "tiny-toxic-code.zip") as zf:
        text = zf.read(zf.namelist()[0]).decode()
    assert text.splitlines()[1].split(",")[2] == "testuser"

    sub = tmp_path / "sub.csv"
    sub.write_text("id,toxic\n000400,0.5\n")
    refused = kaggle("competitions", "submit", "tiny-toxic-code", "-f", str(sub), "-m", "csv", check=False)
    assert "code competition" in refused.stdout + refused.stderr


def test_official_cli_lists_updates_and_deletes_datasets_and_lists_kernel_files(kaggle, api, tmp_path: Path) -> None:
    api.create_dataset("listed-data", {"a.csv": b"x\n1\n"})
    api.create_dataset("other-data", {"b.csv": b"y\n2\n"})
    mine = kaggle("datasets", "list", "--mine", "--csv").stdout.splitlines()[1:]
    assert sorted(line.split(",")[0] for line in mine) == ["testuser/listed-data", "testuser/other-data"]
    found = kaggle("datasets", "list", "-s", "listed", "--mine", "--csv").stdout.splitlines()[1:]
    assert [line.split(",")[0] for line in found] == ["testuser/listed-data"]

    meta = tmp_path / "meta"
    meta.mkdir()
    kaggle("datasets", "metadata", "testuser/listed-data", "-p", str(meta))
    doc = json.loads((meta / "dataset-metadata.json").read_text())
    doc["info"].update(title="Renamed Listed Data", subtitle="now with a subtitle of twenty characters")
    (meta / "dataset-metadata.json").write_text(json.dumps(doc))
    kaggle("datasets", "metadata", "testuser/listed-data", "--update", "-p", str(meta))
    got = api.ok("datasets.GetDataset", {"ownerSlug": "testuser", "datasetSlug": "listed-data"})
    assert got["title"] == "Renamed Listed Data"

    out = kaggle("datasets", "delete", "testuser/other-data", "-y").stdout
    assert "deleted" in out
    r = api.call("datasets.GetDataset", {"ownerSlug": "testuser", "datasetSlug": "other-data"})
    assert r.status_code == 404

    api.push("files-kernel", "print('hi')\n")
    listing = kaggle("kernels", "files", "testuser/files-kernel", "--format", "csv").stdout
    assert listing.splitlines()[1].split(",")[:2] == ["source.py", "12"]  # the pushed source, its bytes
