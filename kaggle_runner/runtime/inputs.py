"""Where a kernel's inputs are: a dataset, competition, notebook output or model, under Kaggle's 2026 layout
(/kaggle/input/competitions/<slug>, datasets/<owner>/<slug>, ...) or the flat /kaggle/input/<slug>."""

from __future__ import annotations

import os

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
