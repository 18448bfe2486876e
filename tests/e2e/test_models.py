"""End to end, Kaggle Models: a training run's weights published with `kr model publish`, an inference kernel that
names the model in `model_sources` reading them at Kaggle's mount point, and the ledger saying which run made which
model version and which version each inference run read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import write_project

pytestmark = pytest.mark.slow

MODEL = "testuser/toxic-tiny/pytorch/fold-0"
TRAIN = "EPOCH = 1\nopen('best.pt', 'w').write(f'weights-{EPOCH}')\nprint('trained')\n"
INFER = """import glob, os
INPUT = os.environ.get("KAGGLE_INPUT_DIR", "/kaggle/input")
found = glob.glob(os.path.join(INPUT, "models", "testuser", "toxic-tiny", "pytorch", "fold-0", "*", "best.pt"))
print("read", open(found[0]).read(), "from", found[0].split("/")[-2])
"""


@pytest.fixture
def kr(emulator, tmp_path: Path, make_kr):
    kernels = {
        "train": {"slug": "train-kernel"},
        # written as kagglehub and the CLI write it; kr records the path form (pytorch)
        "infer": {
            "slug": "infer-kernel",
            "model_sources": [MODEL.replace("pytorch", "pyTorch")],
            "competition_sources": [],
        },
    }
    files = {"kernels/train/main.py": TRAIN, "kernels/infer/main.py": INFER}
    return make_kr(write_project(tmp_path / "proj", kernels=kernels, files=files), emulator)


def test_a_published_run_is_read_by_an_inference_kernel_and_recorded(kr, emulator) -> None:
    refused = kr("push", "infer", check=2)  # nothing published yet: refused here, not after the queue
    assert refused.stderr.strip().splitlines() == [
        f"kr: error: kr.yaml: kernels.infer.model_sources[0]: Kaggle has no version of {MODEL}; publish one "
        f"(kr model publish vN --as {MODEL}); nothing was pushed"
    ]

    kr("push", "train", "-m", "epoch 5", "--wait")
    first = kr("model", "publish", "train:v1", "--as", MODEL, "--files", "best.pt")
    assert first.stdout == f"v1: published as {MODEL} v1 (1 file, 0.0 MB)\n"  # train is the default kernel
    assert "creating model testuser/toxic-tiny (private)" in first.stderr
    again = json.loads(kr("model", "publish", "train:v1", "--as", MODEL, "--files", "best.pt", "--json").stdout)
    assert again["version"] == 1 and not again["uploaded"] and again["bytes"] == 0  # the same files: nothing sent

    out = kr("push", "infer", "--wait")
    assert "pushed infer v1" in out.stdout
    assert "read weights-1 from 1" in kr("logs", "infer:v1").stdout
    sent = emulator.store.state["kernels"]["testuser/infer-kernel"]["versions"][0]["sources"]
    assert sent["modelDataSources"] == ["testuser/toxic-tiny/pyTorch/fold-0/1"]  # pinned to the version kr records
    shown = kr("show", "infer:v1").stdout
    assert f"reads model {MODEL}/1, from v1" in shown
    assert f"published as {MODEL} v1" in kr("show", "train:v1").stdout

    # a second training run's weights become v2, and the next inference run reads v2
    main = kr.project / "kernels" / "train" / "main.py"
    main.write_text(main.read_text().replace("EPOCH = 1", "EPOCH = 2"))
    kr("push", "train", "--wait")
    second = json.loads(kr("model", "publish", "train:v2", "--as", MODEL, "--json").stdout)
    assert second["version"] == 2 and second["uploaded"] and [f["name"] for f in second["files"]] == ["best.pt"]
    kr("push", "infer", "--wait")
    assert "read weights-2 from 2" in kr("logs", "infer:v2").stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["v1", "--as", "toxic-tiny"],
            "--as: 'toxic-tiny' is not a model instance; write owner/model/framework/variation",
        ),
        (["v1", "--as", "alice/toxic/pytorch/base"], "--as: alice is not you (testuser)"),
        (["v1", "--as", "testuser/toxic/caffe/base"], "--as: 'testuser/toxic/caffe/base' is not a model instance"),
        (["v9", "--as", MODEL], "no run v9"),
    ],
)
def test_publish_refuses_bad_input_in_one_line(kr, args: list[str], message: str) -> None:
    r = kr("model", "publish", *args, check=2)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr


def test_a_publish_whose_answer_is_lost_makes_one_version(make_emulator, tmp_path: Path, make_kr) -> None:
    """CreateModelInstanceVersion is handled and its answer dropped: kr finds the new version by the files it sent,
    records it, and does not send it a second time."""
    from kaggle_runner.emulator.faults import Faults, Rule

    rules = [Rule(route="models.ModelApiService/CreateModelInstanceVersion", fault="reset_after", times=1)]
    em = make_emulator(faults=Faults(rules))
    kernels = {"train": {"slug": "train-kernel"}}
    kr = make_kr(write_project(tmp_path / "proj", kernels=kernels, files={"kernels/train/main.py": TRAIN}), em)
    kr("push", "train", "--wait")
    kr("model", "publish", "v1", "--as", MODEL)
    main = kr.project / "kernels" / "train" / "main.py"
    main.write_text(main.read_text().replace("EPOCH = 1", "EPOCH = 2"))
    kr("push", "train", "--wait")
    out = json.loads(kr("model", "publish", "v2", "--as", MODEL, "--json").stdout)
    assert out["version"] == 2 and out["uploaded"]
    assert sum(q["route"].endswith("/CreateModelInstanceVersion") for q in em.requests) == 1
    shown = kr("show", "v2").stdout
    assert f"published as {MODEL} v2" in shown
