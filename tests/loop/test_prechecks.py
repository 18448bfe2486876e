"""The check before a push: code that does not compile, or a top-level import nothing on Kaggle provides, is one line
naming the file and the line, for a script, a notebook's cell and a module beside the entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import write_project
from kaggle_runner import config
from kaggle_runner.errors import UserError
from kaggle_runner.loop.packaging import kernel_files
from kaggle_runner.loop.prechecks import kernel_ready


def _check(tmp_path: Path, entry: str, source: str, **files: str) -> None:
    """kernel_ready for kernels/k2/<entry> holding `source`, with `files` beside it (name -> text)."""
    root = write_project(
        tmp_path / "p",
        kernels={"k2": {"folder": "kernels/k2", "entry": entry, "slug": "kernel-two"}},
        files={f"kernels/k2/{entry}": source, **{f"kernels/k2/{k.replace('__', '/')}": v for k, v in files.items()}},
    )
    cfg = config.load(root)
    kernel_ready(cfg, cfg.kernel("k2"), source, kernel_files(cfg))


def _refusal(tmp_path: Path, entry: str, source: str, **files: str) -> str:
    with pytest.raises(UserError) as e:
        _check(tmp_path, entry, source, **files)
    assert "\n" not in str(e.value) and "--no-check" in str(e.value)
    return str(e.value)


def test_a_syntax_error_names_the_file_and_its_line(tmp_path: Path) -> None:
    assert _refusal(tmp_path, "main.py", "import os\n\ndef main(:\n    pass\n").startswith("kernels/k2/main.py:3: ")


def test_a_script_that_compiles_passes_with_its_future_imports(tmp_path: Path) -> None:
    _check(tmp_path, "main.py", "from __future__ import annotations\nimport numpy, torch\nx: int = 1\n")


def _notebook(*cells: str) -> str:
    return json.dumps(
        {"cells": [{"cell_type": "code", "source": c.splitlines(keepends=True)} for c in cells], "nbformat": 4}
    )


def test_a_notebook_is_checked_cell_by_cell_and_magics_pass(tmp_path: Path) -> None:
    good = _notebook("%pip install -q timm\n!ls /kaggle/input\nimport os", "%%bash\necho not python", "x = 1\n")
    _check(tmp_path / "good", "nb.ipynb", good)
    bad = _notebook("import os", "for i in range(3)\n    print(i)\n")
    assert _refusal(tmp_path / "bad", "nb.ipynb", bad).startswith("kernels/k2/nb.ipynb cell 2:1: ")


def test_a_notebook_that_is_not_json_is_one_line(tmp_path: Path) -> None:
    assert "not a notebook" in _refusal(tmp_path, "nb.ipynb", "{not json")


def test_an_import_of_a_module_beside_the_entry_resolves_and_a_typo_does_not(tmp_path: Path) -> None:
    """The issue's case: `from utils import hello` with utils.py beside main.py works; `utilz` is refused, naming
    where kr looked. A subpackage (a folder, with or without __init__.py) resolves too."""
    siblings = {"utils.py": "def hello():\n    return 1\n", "models__net.py": "import torch\n"}
    _check(tmp_path / "ok", "main.py", "import sys\nfrom utils import hello\nimport models.net\n", **siblings)
    line = _refusal(tmp_path / "typo", "main.py", "import os\n\nfrom utilz import hello\n", **siblings)
    assert line.startswith("kernels/k2/main.py:3: no module 'utilz' in the kernel's folder, your packages"), line
    assert "Kaggle's image" in line


def test_an_import_in_a_module_beside_the_entry_is_checked_and_a_deeper_one_compiled(tmp_path: Path) -> None:
    line = _refusal(tmp_path / "a", "main.py", "import utils\n", **{"utils.py": "import numpy\nimport lightnin\n"})
    assert line.startswith("kernels/k2/utils.py:2: no module 'lightnin'"), line
    broken = {"pkg____init__.py": "", "pkg__deep.py": "def f(:\n"}
    assert _refusal(tmp_path / "b", "main.py", "import pkg\n", **broken).startswith("kernels/k2/pkg/deep.py:1: ")


def test_guarded_imports_and_kaggle_image_packages_pass(tmp_path: Path) -> None:
    """Only imports that surely run are checked: one inside try/if/def may be optional. Kaggle's image provides
    packages whose import name differs from the distribution (cv2, sklearn, PIL) and Kaggle's own modules."""
    source = (
        "import cv2, sklearn.metrics, timm\nfrom PIL import Image\nfrom kaggle_secrets import UserSecretsClient\n"
        "try:\n    import apex\nexcept ImportError:\n    apex = None\n"
        "def f():\n    import not_installed_anywhere\n"
    )
    _check(tmp_path, "main.py", source)


def test_a_module_left_out_by_gitignore_does_not_resolve(tmp_path: Path) -> None:
    """What does not ship cannot be imported there: the check reads the same list of files as the upload."""
    files = {"secret_utils.py": "X = 1\n", ".gitignore": "secret_*.py\n"}
    assert "no module 'secret_utils'" in _refusal(tmp_path, "main.py", "import secret_utils\n", **files)


def test_kaggle_runner_resolves_only_when_the_code_bundle_carries_it(tmp_path: Path) -> None:
    source = "from kaggle_runner import runtime\n"
    assert "no module 'kaggle_runner'" in _refusal(tmp_path / "a", "main.py", source)
    root = write_project(
        tmp_path / "b",
        kernels={"k2": {"folder": "kernels/k2", "entry": "main.py", "slug": "kernel-two"}},
        files={"kernels/k2/main.py": source},
        code={"packages": []},
    )
    cfg = config.load(root)
    kernel_ready(cfg, cfg.kernel("k2"), source, kernel_files(cfg))
