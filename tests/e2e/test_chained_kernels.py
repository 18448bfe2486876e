"""End to end, a training kernel whose output an inference kernel reads: `kernel_sources: [train]` names a kr kernel,
`kr push infer --after train:vN` waits for it, and the ledger says which training version each inference run read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import write_project

pytestmark = pytest.mark.slow

TRAIN = "open('model.txt', 'w').write('0.25')\nprint('trained')\n"
INFER = """import csv, glob, os
INPUT = os.environ.get("KAGGLE_INPUT_DIR", "/kaggle/input")
model = open(glob.glob(os.path.join(INPUT, "notebooks", "*", "train-kernel", "model.txt"))[0]).read()
print("model", model)
rows = list(csv.reader(open(os.path.join(INPUT, "competitions", "tiny-toxic", "sample_submission.csv"))))
with open("submission.csv", "w") as f:
    f.write("id,toxic\\n" + "".join(f"{r[0]},{model}\\n" for r in rows[1:]))
"""


@pytest.fixture
def kr(emulator, tmp_path: Path, make_kr):
    kernels = {
        "train": {"slug": "train-kernel", "accelerator": "cpu"},
        "infer": {"slug": "infer-kernel", "kernel_sources": ["train"]},
    }
    files = {"kernels/train/main.py": TRAIN, "kernels/infer/main.py": INFER}
    return make_kr(write_project(tmp_path / "proj", kernels=kernels, files=files), emulator)


def _saved(emulator, since: int) -> list[dict]:
    return [q for q in emulator.requests[since:] if q["route"].endswith("SaveKernel")]


def test_an_inference_kernel_reads_the_training_run_it_waited_for(kr, emulator) -> None:
    before = len(emulator.requests)
    r = kr("push", "infer", check=2)  # nothing to read yet: refused here, not after the queue
    assert r.stderr.startswith("kr: error: kr.yaml: kernels.infer.kernel_sources: Kaggle has no kernel ")
    assert _saved(emulator, before) == []

    kr("push", "train")
    out = kr("push", "infer", "--after", "train:v1", "--wait")
    assert "waiting for train v1 to complete before pushing" in out.stderr and "pushed infer v1" in out.stdout
    assert "model 0.25" in kr("logs", "infer:v1").stdout  # mounted at /kaggle/input/notebooks/testuser/train-kernel
    sent = emulator.store.state["kernels"]["testuser/infer-kernel"]["versions"][0]["sources"]
    assert sent["kernelDataSources"] == ["testuser/train-kernel"]  # the kr kernel's name, sent as owner/slug

    info = json.loads(kr("show", "infer:v1", "--json").stdout)
    assert info["sources"] == [{"ref": "testuser/train-kernel", "version": 1, "label": "train:v1"}]
    assert "reads the output of train:v1" in kr("show", "infer:v1").stdout
    assert "infer:v1 read the output of train:v1" in kr("submit", "infer:v1").stdout


def test_a_failed_upstream_run_pushes_nothing(kr, emulator) -> None:
    kr("push", "train", "--wait")
    (kr.project / "kernels" / "train" / "main.py").write_text("raise SystemExit('diverged')\n")
    kr("push", "train")
    before = len(emulator.requests)
    r = kr("push", "infer", "--after", "train:v2", check=2)
    assert r.stderr.splitlines()[-1].startswith("kr: error: train v2 ended ERROR"), r.stderr
    assert "nothing was pushed" in r.stderr and _saved(emulator, before) == []
    assert [row["kernel"] for row in json.loads(kr("ls", "--json").stdout)] == ["train", "train"]
