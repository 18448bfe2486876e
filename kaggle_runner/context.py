"""What a command works with: the project's config, the Kaggle API (None for ledger-only commands), the ledger and
the owner. Apart from workflows so that ledger-only commands (ls, show, merge) never import the HTTP stack."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

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
