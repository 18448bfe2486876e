"""runtime.params(): the run's params as the bootstrap hands them to the kernel, over the kernel's own defaults."""

from __future__ import annotations

import json
import os

from kaggle_runner.loop import bootstrap


def test_the_bootstrap_hands_the_runs_params_to_runtime_params(monkeypatch, capsys) -> None:
    monkeypatch.delenv("KR_PARAMS", raising=False)
    marker = {"run": 1, "kind": "cpu", "label": "CPU", "code": None, "params": {"lr": 2e-5, "scheduler": "cosine"}}
    user = (
        "import json\nfrom kaggle_runner import runtime as rt\n"
        "print('PARAMS', json.dumps(rt.params(lr=1e-3, epochs=2)))\n"
    )
    try:
        exec(compile(bootstrap.script(user, marker), "kernel.py", "exec"), {"__name__": "__main__"})
    finally:
        os.environ.pop("KR_PARAMS", None)
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("PARAMS ")][0]
    assert json.loads(line[7:]) == {"lr": 2e-5, "epochs": 2, "scheduler": "cosine"}  # the run's win over defaults


def test_without_kr_the_defaults_stand(monkeypatch) -> None:
    from kaggle_runner.runtime.params import params

    monkeypatch.delenv("KR_PARAMS", raising=False)
    assert params(lr=1e-3) == {"lr": 1e-3}
