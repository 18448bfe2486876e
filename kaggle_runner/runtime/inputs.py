"""Where a kernel's inputs and own files are: a dataset, competition, notebook output or model, under Kaggle's 2026
layout (/kaggle/input/competitions/<slug>, datasets/<owner>/<slug>, ...) or the flat /kaggle/input/<slug>."""

from __future__ import annotations

import os
import sys

from kaggle_runner.kaggle.rules import find_input


def input_dir(name: str, kind: str = "") -> str:
    """The folder of input `name` (a slug or owner/slug); `kind` narrows it to competitions, datasets, notebooks or
    models. Raises FileNotFoundError naming what was looked for and what /kaggle/input holds."""
    return find_input(name, kind)


def competition_dir() -> str:
    """The folder of the competition the run was pushed for (kr.yaml `competition:`)."""
    slug = os.environ.get("KR_COMPETITION")
    if not slug:
        raise FileNotFoundError("this run has no competition: set `competition:` in kr.yaml, or use input_dir(slug)")
    return find_input(slug, "competitions")


def kernel_dir() -> str:
    """The folder of the kernel's own files (kr.yaml `folder:`, shipped in the code bundle), which the bootstrap puts
    first on sys.path; run outside kr, the folder of the script being run (or the current folder)."""
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    return os.environ.get("KR_KERNEL_DIR") or (os.path.dirname(os.path.abspath(main)) if main else os.getcwd())
