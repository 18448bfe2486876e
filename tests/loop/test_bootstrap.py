"""The generated bootstrap: future imports kept first, the run marked, and values that only JSON can carry, run as
the kernel runs them."""

from __future__ import annotations

from kaggle_runner.loop import bootstrap


def test_bootstrap_keeps_future_imports_first_and_marks_the_run() -> None:
    text = bootstrap.script(
        "from __future__ import annotations\nprint('hi')\n", {"run": 4, "kind": "cpu", "label": "CPU"}
    )
    assert text.startswith("from __future__ import annotations\n")
    compile(text, "kernel.py", "exec")
    assert bootstrap.find_marker('noise\nKR_RUN {"run": 4, "session": "12"}\n') == {"run": 4, "session": "12"}


def test_bootstrap_runs_with_json_only_values(capsys) -> None:
    marker = {"run": 1, "kind": "cpu", "label": "CPU", "code": None, "bundles": {}, "flag": True}
    exec(compile(bootstrap.script("print('user code')\n", marker), "kernel.py", "exec"), {})
    out = capsys.readouterr().out
    assert bootstrap.find_marker(out)["code"] is None and out.rstrip().endswith("user code")
