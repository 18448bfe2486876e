"""What the CLI layer's tests share: a project on disk and a Session over it whose Kaggle API is a stand-in, so a
command's parsing and rendering are tested with the library function it calls patched (as dvc's command tests do)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import write_project
from kaggle_runner.project import Session, open_project


class NoApi:
    """A Kaggle API no command under test may reach: the library function it calls is patched."""

    url = "https://api.kaggle.com"

    def page(self, ref: str) -> str:
        """Kaggle's page of the kernel, as KaggleApi.page gives it (no request)."""
        return f"https://www.kaggle.com/code/{ref}"

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the command called the Kaggle API ({name}); patch the library function instead")


@pytest.fixture
def session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Session:
    """A project in tmp_path (the current folder), and `kr`'s connect() answering with a Session over it."""
    from kaggle_runner.loop import recovery

    write_project(tmp_path, owner="testuser")
    monkeypatch.chdir(tmp_path)
    project = open_project()
    s = Session(cfg=project.cfg, ledger=project.ledger, owner=project.owner, api=NoApi())
    monkeypatch.setattr(recovery, "connect", lambda url, say: s)
    return s
