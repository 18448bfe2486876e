"""Outputs brought home: names that would escape the run's folder refused, nested names kept inside, and a server
that never stops paging stopped in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaggle_runner.kaggle.api import KaggleError
from kaggle_runner.loop.outputs import safe_target


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/passwd", "a/../../b", "C:evil", "", ".", "x\x00y"])
def test_names_that_would_escape_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(KaggleError, match="outside"):
        safe_target(tmp_path, name)


def test_nested_names_stay_inside(tmp_path: Path) -> None:
    assert safe_target(tmp_path, "models/fold0/w.bin") == tmp_path / "models" / "fold0" / "w.bin"


@pytest.mark.parametrize("tokens", ["always new", "the same again"])
def test_a_server_that_never_stops_paging_outputs_is_one_line(tmp_path: Path, tokens: str) -> None:
    """kr followed nextPageToken for ever; it now stops at a repeated token or after MAX_PAGES pages."""
    from types import SimpleNamespace

    from kaggle_runner.ledger.db import Ledger
    from kaggle_runner.loop.outputs import MAX_PAGES, pull
    from kaggle_runner.project import Session

    asked: list[str] = []

    class EndlessApi:
        def list_output(self, owner: str, slug: str, version: int, page_token: str = "", page_size: int = 500):
            asked.append(page_token)
            token = f"p{len(asked)}" if tokens == "always new" else "p"
            return SimpleNamespace(files=[], log="", next_page_token=token)

    ledger = Ledger(tmp_path / "ledger.sqlite")
    run_id = ledger.begin_push("main", "testuser/k", "cpu", "Cpu", "", None, False, {}, {})
    ledger.finish_push(run_id, 3)
    cfg = SimpleNamespace(root=tmp_path, default_kernel="main")
    ctx = Session(cfg=cfg, api=EndlessApi(), ledger=ledger, owner="testuser")
    with pytest.raises(KaggleError, match="listing v3's outputs: Kaggle kept answering with another page"):
        pull(ctx, ledger.resolve("v3", "main"), print)
    assert len(asked) == (MAX_PAGES + 1 if tokens == "always new" else 2)
