"""kagglehub 1.0.3 against the emulator, as a notebook or a laptop runs it: a dataset folder's download
(ListTreeDatasetFiles) and a notebook version's output (DownloadKernelOutput); `kaggle search` (ListEntities)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from helpers import Api, kagglehub

pytestmark = pytest.mark.slow


def test_a_dataset_folder_downloads_alone(api: Api, emulator, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.txt", "first")
        zf.writestr("deep/b.txt", "second")
    api.create_dataset("with-folders", {"images.zip": buf.getvalue(), "top.csv": b"x\n1\n"})
    got = kagglehub(
        emulator,
        tmp_path,
        "import os, kagglehub\n"
        "p = kagglehub.dataset_download('testuser/with-folders', path='images')\n"
        "for root, _, files in sorted(os.walk(p)):\n"
        "    for f in sorted(files):\n"
        "        path = os.path.join(root, f)\n"
        "        print('GOT', os.path.relpath(path, p), open(path).read())\n",
    )
    assert got == ["GOT a.txt first", "GOT deep/b.txt second"]  # the folder only, not top.csv
    tree = api.ok(
        "datasets.ListTreeDatasetFiles", {"ownerSlug": "testuser", "datasetSlug": "with-folders", "path": "images"}
    )
    assert [d["relativeUrl"] for d in tree["directories"]] == ["images/deep"]
    assert [f["relativeUrl"] for f in tree["files"]] == ["images/a.txt"] and tree["totalChildren"] == 2
    outside = {"ownerSlug": "testuser", "datasetSlug": "with-folders", "path": "../.."}
    assert api.call("datasets.ListTreeDatasetFiles", outside).status_code == 404


def test_a_notebook_versions_output_downloads_by_version(api: Api, emulator, tmp_path: Path) -> None:
    for text in ("one", "two"):
        api.push("writer", f"open('out.txt', 'w').write('{text}')")
        assert api.wait("writer", version=1 if text == "one" else 2)["status"] == "COMPLETE"
    got = kagglehub(
        emulator,
        tmp_path,
        "import kagglehub\n"
        "p = kagglehub.notebook_output_download('testuser/writer/versions/1')\n"
        "print('GOT', open(p + '/out.txt').read())\n"
        "p = kagglehub.notebook_output_download('testuser/writer', path='out.txt')\n"
        "print('GOT', open(p).read())\n",
    )
    assert got == ["GOT one", "GOT two"]


def test_the_official_cli_searches_what_the_user_may_see(kaggle, api: Api) -> None:
    api.create_dataset("tiny-extra", {"a.csv": b"x\n1\n"})
    api.push("tiny-notebook", "print(1)")

    def found(*args: str) -> list[tuple[str, str]]:
        lines = kaggle("search", *args, "--csv").stdout.splitlines()
        return sorted((line.split(",")[0], line.split(",")[1]) for line in lines[1:])

    everything = found("tiny")
    assert ("competition", "tiny-toxic") in everything and ("dataset", "testuser/tiny-extra") in everything
    assert ("notebook", "testuser/tiny-notebook") in everything
    assert found("tiny", "--type", "datasets") == [("dataset", "testuser/tiny-extra")]
    assert all(kind != "competition" for kind, _ in found("tiny", "--mine"))  # the user's own work only
    assert kaggle("search", "nothing-like-this").stdout.strip() == "No matches found"
