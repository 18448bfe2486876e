"""The version-address grammar: v23, KERNEL:v23, latest, mK merges, sK sweeps, subN submissions, and a teammate's
USER/KERNEL:v23, each told apart from a file of that name."""

from __future__ import annotations

import re
from pathlib import Path

from kaggle_runner.config import NAME_PATTERN

# ASCII digits only (`v١` is not v1), and few enough that no number overflows SQLite's integers
REF_RE = re.compile(f"^(?:(?P<kernel>{NAME_PATTERN}):)?" + r"(?:v(?P<version>[0-9]{1,9})|(?P<latest>latest))$")


MERGE_RE = re.compile(r"^m(?P<id>[0-9]{1,9})$")


SWEEP_RE = re.compile(r"^s(?P<id>[0-9]{1,9})$")


SUBMISSION_RE = re.compile(r"^sub(?P<ref>[0-9]{1,12})$")  # a submission by its Kaggle ref: sub40012


def submission_ref(text: str) -> int | None:
    """The Kaggle ref that text names as a submission (sub40012), unless a file has that name."""
    m = SUBMISSION_RE.match(text.strip())
    return int(m["ref"]) if m and not Path(text).exists() else None


# a teammate's run or merge on the team's tracking server: alice/v21, alice/KERNEL:v21, alice/m3
TEAM_REF_RE = re.compile(
    rf"^(?P<user>[A-Za-z0-9][A-Za-z0-9_-]{{0,63}})/(?P<label>(?:{NAME_PATTERN}:)?v[0-9]{{1,9}}|m[0-9]{{1,9}})$"
)


def is_team_ref(text: str) -> bool:
    """Whether text names a teammate's run (alice/v21) rather than a file of that name."""
    return bool(TEAM_REF_RE.match(text.strip())) and not Path(text).exists()


def is_reference(text: str) -> bool:
    """Whether text names a run or a merge (v23, KERNEL:v23, latest, m3) rather than a file."""
    return bool(REF_RE.match(text.strip()) or MERGE_RE.match(text.strip()))
