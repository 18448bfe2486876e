"""What a command works with: the project's config, the Kaggle API (None for ledger-only commands), the ledger and
the owner. Apart from workflows so that ledger-only commands (ls, show, merge) never import the HTTP stack."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kaggle_runner.errors import UserError

if TYPE_CHECKING:
    from kaggle_runner.config import Config
    from kaggle_runner.kaggle_api import KaggleApi
    from kaggle_runner.ledger import Ledger


@dataclass
class Context:
    cfg: Config
    api: KaggleApi | None
    ledger: Ledger
    owner: str


def open_project(owner_from_credentials: bool = False) -> Context:
    """The project around the current folder, without Kaggle: for commands that read or write only the ledger.
    The owner is kr.yaml's, else (if asked) the credentials' user, since the ledger names datasets owner/slug."""
    from kaggle_runner import config
    from kaggle_runner.ledger import open_ledger

    cfg = config.load()
    owner = cfg.owner or ""
    if not owner and owner_from_credentials:
        from kaggle_runner.kaggle_api import find_credentials

        try:
            owner = find_credentials().username or ""
        except UserError:
            pass
    return Context(cfg, None, open_ledger(cfg.root), owner)
