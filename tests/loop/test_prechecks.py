"""The check before a push: an entry that does not compile is one line naming the file and the line, for a script
and for a notebook's cell, while IPython's magics and shell lines pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kaggle_runner.errors import UserError
from kaggle_runner.loop.prechecks import entry_compiles


def test_a_syntax_error_names_the_file_and_its_line() -> None:
    source = "import os\n\ndef main(:\n    pass\n"
    with pytest.raises(UserError) as e:
        entry_compiles(Path("main.py"), source, "kernels/k2/main.py")
    assert str(e.value).startswith("kernels/k2/main.py:3: ") and "--no-check" in str(e.value)
    assert "\n" not in str(e.value)


def test_a_script_that_compiles_passes_with_its_future_imports() -> None:
    entry_compiles(Path("main.py"), "from __future__ import annotations\nx: int = 1\n", "main.py")


def _notebook(*cells: str) -> str:
    return json.dumps(
        {"cells": [{"cell_type": "code", "source": c.splitlines(keepends=True)} for c in cells], "nbformat": 4}
    )


def test_a_notebook_is_checked_cell_by_cell_and_magics_pass() -> None:
    good = _notebook("%pip install -q timm\n!ls /kaggle/input\nimport os", "%%bash\necho not python", "x = 1\n")
    entry_compiles(Path("nb.ipynb"), good, "nb.ipynb")
    bad = _notebook("import os", "for i in range(3)\n    print(i)\n")
    with pytest.raises(UserError) as e:
        entry_compiles(Path("nb.ipynb"), bad, "kernels/nb/nb.ipynb")
    assert str(e.value).startswith("kernels/nb/nb.ipynb cell 2:1: ")


def test_a_notebook_that_is_not_json_is_one_line() -> None:
    with pytest.raises(UserError) as e:
        entry_compiles(Path("nb.ipynb"), "{not json", "nb.ipynb")
    assert "not a notebook" in str(e.value) and "\n" not in str(e.value)
