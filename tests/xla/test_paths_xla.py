"""One answer on the XLA path: the model of tests/device_paths.py trained on XLA's CPU device under bfloat16 autocast
gives CPU float32's answer (same torch), with predictions at float32 resolution."""

from __future__ import annotations

from pathlib import Path

from device_paths import disagreements, train


def test_xla_gives_the_float32_answer(tmp_path: Path) -> None:
    reference = train("cpu-float32", tmp_path)
    assert reference["auc"] > 0.97
    assert disagreements(reference, train("xla", tmp_path, PJRT_DEVICE="CPU")) == []
