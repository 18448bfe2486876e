"""What a command works with. A Project (config, ledger, owner) works offline; a Session is a Project with the
Kaggle API, which is never None. Apart from the loop so that ledger-only commands never import the HTTP stack."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kaggle_runner import layout
from kaggle_runner.errors import UserError

if TYPE_CHECKING:
    from kaggle_runner.config import Config
    from kaggle_runner.kaggle.api import KaggleApi
    from kaggle_runner.ledger.db import Ledger, Run


Say = Callable[[str], None]  # where a library function reports progress: the CLI prints it, tests collect it


@dataclass(frozen=True)
class Project:
    """The project around the current folder: kr.yaml, the ledger, and the Kaggle user that owns its kernels."""

    cfg: Config
    ledger: Ledger
    owner: str

    @property
    def name(self) -> str:
        """The project as its pushed kernels' markers name it: its folder's name, the same in every clone, so that
        a kernel slug another project pushes to is told apart."""
        return self.cfg.root.name

    def run_dir(self, run: Run) -> Path:
        """Where the run's outputs and log are pulled (layout.run_dir)."""
        return layout.run_dir(self.cfg.root, run.kernel, run.version or 0, self.cfg.default_kernel)


@dataclass(frozen=True)
class Session(Project):
    """A Project that talks to Kaggle (project.py's connect())."""

    api: KaggleApi


def open_project(owner_from_credentials: bool = False) -> Project:
    """The project around the current folder, without Kaggle: for commands that read or write only the ledger.
    The owner is kr.yaml's, else (if asked) the credentials' user, since the ledger names datasets owner/slug."""
    from kaggle_runner import config
    from kaggle_runner.ledger.db import open_ledger

    cfg = config.load()
    owner = cfg.owner or ""
    if not owner and owner_from_credentials:
        from kaggle_runner.kaggle.api import find_credentials

        try:
            owner = find_credentials().username or ""
        except UserError:
            pass
    return Project(cfg=cfg, ledger=open_ledger(cfg.root), owner=owner)
