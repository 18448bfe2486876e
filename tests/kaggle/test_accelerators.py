"""Accelerator names: kr's short names and Kaggle's machineShape strings, and the pools kr does not offer."""

from __future__ import annotations

import pytest

from kaggle_runner.kaggle import accelerators


@pytest.mark.parametrize(
    "asked, shape, kind",
    [
        ("cpu", "", "cpu"),
        ("gpu", "NvidiaTeslaT4", "gpu"),
        ("l4", "NvidiaL4X1", "gpu"),
        ("h100", "NvidiaH100", "gpu"),
        ("tpu", "TpuV5E8", "tpu"),
        ("v6e-8", "TpuV6E8", "tpu"),
        ("nvidial4", "NvidiaL4", "gpu"),  # Kaggle's own name, in any case
        ("Cpu", "", "cpu"),
        ("p100", "NvidiaTeslaP100", "gpu"),  # retired: asked for as named, runs on T4 x2
    ],
)
def test_names_give_the_shape_to_ask_for_and_what_it_runs_on(asked: str, shape: str, kind: str) -> None:
    assert accelerators.machine_shape(asked) == shape
    assert accelerators.kind_of(asked) == kind


def test_retired_shapes_run_on_their_successors() -> None:
    assert accelerators.resolve("NvidiaTeslaP100").label == "GPU T4 x2"
    assert accelerators.resolve("TpuV38").name == "TpuV5E8"
    assert accelerators.resolve("TpuV2256").kind == "cpu"


@pytest.mark.parametrize("asked, words", [("NvidiaTeslaT4Highmem", "for Kaggle's admins only"), ("tpux", "unknown")])
def test_admin_pools_and_unknown_names_are_refused(asked: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        accelerators.machine_shape(asked)
    assert accelerators.kind_of(asked) is None
