"""The generated bootstrap: future imports kept first, the run marked, and values that only JSON can carry, run as
the kernel runs them."""

from __future__ import annotations

import traceback

import pytest

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


@pytest.mark.parametrize(
    "source",
    [
        "import os\n\nx = 1\nint('here')\n",  # the first statement's own line
        '"""Doc."""\nfrom __future__ import annotations\n\nimport os\nint("here")\n',  # a blank line
        "# train.py\nimport os\nint('here')\n",  # a comment line
        "@staticmethod\ndef f():\n    pass\n\nint('here')\n",  # a compound start: one line above
    ],
)
def test_the_users_lines_keep_their_numbers(source: str) -> None:
    """A traceback in a pushed kernel points at the user's own line (not 130 lines further down), and the line that
    runs the bootstrap is short enough to read when a traceback shows it; the bootstrap itself is the last line."""
    marker = {"run": 1, "kind": "cpu", "label": "CPU"}
    text = bootstrap.script(source, marker)
    shift = 1 if source.startswith("@") else 0
    lines, users = text.split("\n"), source.split("\n")
    ends = len(users) - 1 + shift  # the user's last line ended with a newline, so the bootstrap's line follows it
    assert lines[ends - 2 : ends] == users[-3:-1] and lines[ends].startswith(bootstrap.TAIL) and lines[-1] == ""
    assert max(len(line) for line in lines[:ends]) < 250
    with pytest.raises(ValueError) as e:
        exec(compile(text, "main.py", "exec"), {"__name__": "__main__"})
    raised_at = traceback.extract_tb(e.tb)[-1].lineno
    assert raised_at == users.index(next(ln for ln in users if "here" in ln)) + 1 + shift
    assert bootstrap.marker_in_source(text)["run"] == 1


def test_a_script_whose_end_cannot_be_reached_carries_the_bootstrap_on_its_first_line(capsys) -> None:
    """`raise SystemExit(main())` makes the last line dead code, which the compiler drops with its constants."""
    source = "import os\n\ndef main():\n    return int('here')\n\nraise SystemExit(main())\n"
    text = bootstrap.script(source, {"run": 3, "kind": "cpu", "label": "CPU"})
    assert len(text.split("\n")) == len(source.split("\n")) and bootstrap.marker_in_source(text)["run"] == 3
    with pytest.raises(ValueError) as e:
        exec(compile(text, "main.py", "exec"), {"__name__": "__main__"})
    assert [f.lineno for f in traceback.extract_tb(e.tb)][-2:] == [6, 4]
    assert bootstrap.find_marker(capsys.readouterr().out)["run"] == 3


def test_a_source_that_does_not_parse_keeps_its_lines_when_it_opens_with_a_comment() -> None:
    text = bootstrap.script(
        "# typo below\nfor i in range(3)\n    print(i)\n", {"run": 2, "kind": "cpu", "label": "CPU"}
    )
    with pytest.raises(SyntaxError) as e:
        compile(text, "main.py", "exec")
    assert e.value.lineno == 2 and bootstrap.marker_in_source(text)["run"] == 2
