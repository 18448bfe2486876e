"""Dataset specs in datasets/NAME/dataset.yaml and `kr datasets push/ls`, end to end against the emulator;
and the XNLI spec's prepare step (unpacking only what it should, from a local copy of the archive)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from helpers import write_project

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
KERNEL = """import os
INPUT = os.environ.get("KAGGLE_INPUT_DIR", "/kaggle/input")
print("rows", sum(1 for _ in open(os.path.join(INPUT, "datasets", "testuser", "tiny-text", "train.csv"))) - 1)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(
        tmp_path / "proj",
        kernels={"main": {"title": "Reads Tiny Text", "datasets": ["tiny_text"]}},
        files={"kernels/main/main.py": KERNEL},
        copy=("datasets",),
        competition=None,
    )


@pytest.fixture
def kr(emulator, project: Path, make_kr):
    return make_kr(project, emulator)


def test_push_prepares_uploads_once_and_kernels_read_it(kr, project: Path, kaggle) -> None:
    first = kr("datasets", "push", "tiny_text")
    assert first.stdout == "testuser/tiny-text v1 uploaded\n"
    assert "wrote data/train.csv and data/test.csv" in first.stderr  # prepare's output, not on stdout
    files = kaggle("datasets", "files", "testuser/tiny-text").stdout  # the official CLI sees what was uploaded
    assert "train.csv" in files and "test.csv" in files

    again = json.loads(kr("datasets", "push", "tiny_text", "--json").stdout)
    assert again["ref"] == "testuser/tiny-text" and again["version"] == 1 and not again["uploaded"]
    listed = json.loads(kr("datasets", "ls", "--json").stdout)
    tiny = next(r for r in listed if r["name"] == "tiny_text")
    assert tiny["spec"] == "datasets/tiny_text/dataset.yaml" and tiny["version"] == 1 and tiny["files"] == 2
    assert next(r for r in listed if r["name"] == "xnli")["version"] is None

    kr("push", "-m", "reads the spec's dataset", "--wait")
    assert "rows 300" in kr("logs", "v1").stdout


@pytest.mark.parametrize("case", ["unknown", "bad_yaml", "bad_key", "twice", "prepare_fails"])
def test_spec_errors_are_one_line(kr, project: Path, case: str) -> None:
    spec = project / "datasets" / "tiny_text" / "dataset.yaml"
    if case == "bad_yaml":
        spec.write_text("paths: [data\n")
    elif case == "bad_key":
        spec.write_text("paths: [data]\nfiles: [x]\n")
    elif case == "twice":
        with open(project / "kr.yaml", "a") as f:
            f.write("datasets:\n  tiny_text: {paths: [x]}\n")
    elif case == "prepare_fails":
        spec.write_text("prepare: python -c 'raise SystemExit(3)'\npaths: [data]\n")
    r = kr("datasets", "push", "nope" if case == "unknown" else "tiny_text", check=2)
    expected = {
        "unknown": "no dataset spec named 'nope' (specs: tiny_text, xnli)",
        "bad_yaml": "datasets/tiny_text/dataset.yaml: not valid YAML at line 2",
        "bad_key": "datasets/tiny_text/dataset.yaml: files: unknown key; use paths, slug or prepare",
        "twice": "kr.yaml: datasets.tiny_text: also defined in datasets/tiny_text/dataset.yaml; keep one of the two",
        "prepare_fails": "datasets/tiny_text/dataset.yaml: prepare: `python -c 'raise SystemExit(3)'` failed",
    }[case]
    last = r.stderr.strip().splitlines()[-1]
    assert expected in last and "Traceback" not in r.stderr


def xnli_zip(path: Path, extra: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("XNLI-1.0/xnli.dev.tsv", "language\tgold_label\tsentence1\nes\tneutral\thola\n")
        z.writestr("XNLI-1.0/xnli.test.tsv", "language\tgold_label\tsentence1\nfr\tentailment\tbonjour\n")
        z.writestr("XNLI-1.0/README.txt", "not wanted\n")
        for name, text in (extra or {}).items():
            z.writestr(name, text)
    return path


def test_xnli_spec_unpacks_a_local_archive_and_pushes(kr, project: Path, tmp_path: Path) -> None:
    archive = xnli_zip(tmp_path / "XNLI-1.0.zip")
    assert kr("datasets", "push", "xnli", env={"XNLI_ZIP": str(archive)}).stdout == "testuser/xnli v1 uploaded\n"
    data = project / "datasets" / "xnli" / "data"
    assert sorted(p.name for p in data.iterdir()) == ["xnli.dev.tsv", "xnli.test.tsv"]
    assert "bonjour" in (data / "xnli.test.tsv").read_text()
    r = kr("datasets", "push", "xnli", env={"XNLI_URL": "http://127.0.0.1:9/none.zip"})  # data/ is there: no download
    assert r.stdout == "testuser/xnli v1 unchanged\n" and "already holds" in r.stderr


def test_xnli_prepare_refuses_escaping_members_and_says_when_offline(tmp_path: Path) -> None:
    prepare = ROOT / "datasets" / "xnli" / "prepare.py"
    bad = xnli_zip(tmp_path / "bad.zip", {"../../evil.txt": "x"})
    r = subprocess.run(
        [sys.executable, str(prepare)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "XNLI_ZIP": str(bad)},
    )
    assert r.returncode == 1 and "member '../../evil.txt' would be written outside data/" in r.stderr
    assert not (tmp_path / "data").exists() and not (tmp_path.parent / "evil.txt").exists()

    env = {k: v for k, v in os.environ.items() if k != "XNLI_ZIP"}
    r = subprocess.run(
        [sys.executable, str(prepare)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "XNLI_URL": "http://127.0.0.1:9/XNLI-1.0.zip"},
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "cannot download http://127.0.0.1:9/XNLI-1.0.zip" in r.stderr and "XNLI_ZIP" in r.stderr
