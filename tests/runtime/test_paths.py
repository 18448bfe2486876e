"""One answer on every device path this venv has: CPU bfloat16 autocast, CPU float16 with a GradScaler (the T4's
path) and DDP over 2 CPU processes give CPU float32's answer, predictions at float32 resolution. XLA: tests/xla."""

from __future__ import annotations

from pathlib import Path

import pytest
from device_paths import disagreements, train


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return train("cpu-float32", tmp_path_factory.mktemp("reference"))


def test_the_reference_learns_decisively_at_float32_resolution(reference: dict) -> None:
    assert reference["auc"] > 0.97
    assert len(set(reference["predictions"])) == len(reference["predictions"]) == 200


@pytest.mark.parametrize("path", ["cpu-bfloat16", "cpu-float16", "ddp-2"])
def test_each_path_gives_the_float32_answer(reference: dict, path: str, tmp_path: Path) -> None:
    assert disagreements(reference, train(path, tmp_path)) == []
