"""Kaggle's rules shared by kr, its bootstrap, its runtime and its emulator: one TPU check for every way a TPU
machine shows itself, the same in the bootstrap's embedded copy."""

from __future__ import annotations

import pytest

from kaggle_runner import bootstrap
from kaggle_runner.kaggle_rules import tpu_present

FORMS = [
    (["accel0", "null"], [], {}, True),  # TPU VMs before v5e: /dev/accel*
    (["vfio", "null"], ["0", "1", "2", "3", "vfio"], {}, True),  # a TPU v5e-8 VM: numbered VFIO groups
    (["vfio", "null"], ["vfio"], {}, False),  # the VFIO control device alone is no TPU
    (["null"], [], {"TPU_NAME": "local"}, True),
    (["null"], [], {"TPU_ACCELERATOR_TYPE": "v5litepod-8"}, True),
    (["null", "nvidia0"], [], {"TPU_NAME": ""}, False),  # a GPU machine
]


@pytest.mark.parametrize("dev, vfio, environ, expected", FORMS)
def test_every_form_of_a_tpu_machine(dev: list[str], vfio: list[str], environ: dict, expected: bool) -> None:
    assert tpu_present(dev, vfio, environ) is expected


@pytest.mark.parametrize("dev, vfio, environ, expected", FORMS)
def test_the_bootstrap_carries_the_same_check(dev: list[str], vfio: list[str], environ: dict, expected: bool) -> None:
    source = bootstrap.script("print('user code')\n", {"run": 1, "kind": "tpu", "label": "TPU v5e-8"})
    assert bootstrap.TPU_CHECK in source
    scope: dict = {}
    exec(bootstrap.TPU_CHECK, scope)  # the copy a kernel runs before kaggle_runner is installed
    assert scope["_kr_tpu_present"](dev, vfio, environ) is expected
