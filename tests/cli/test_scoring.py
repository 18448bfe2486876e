"""`kr merge` as a shim: it parses the method and weights, hands them to loop/merging and renders the merge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from kaggle_runner.cli import app
from kaggle_runner.loop import merging
from kaggle_runner.project import Session


def test_merge_hands_method_and_weights_to_the_library(session: Session, monkeypatch) -> None:
    seen: dict[str, Any] = {}

    def merge(ctx: Any, inputs: list[str], out: Path | None, method: str, w: Any, power: Any, id_column: Any) -> Any:
        seen.update(ctx=ctx, inputs=inputs, out=out, method=method, weights=w, power=power, id_column=id_column)
        return {
            "id": "m1",
            "output": "ens.csv",
            "rows": 3,
            "method": method,
            "sources": inputs,
            "correlation": {"toxic": [[1.0, 0.99], [0.99, 1.0]]},
            "near_copies": [{"column": "toxic", "a": "v1", "b": "v2", "r": 0.99}],
        }

    monkeypatch.setattr(merging, "merge", merge)
    args = ["merge", "v1", "v2", "--method", "weighted", "--weights", "0.6,0.4", "-o", "ens.csv"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert seen["inputs"] == ["v1", "v2"] and seen["method"] == "weighted" and seen["weights"] == [0.6, 0.4]
    assert seen["out"] == Path("ens.csv") and seen["ctx"].cfg.root == session.cfg.root
    assert "m1: weighted of v1 + v2 -> ens.csv (3 rows)" in r.stdout
    out = json.loads(CliRunner().invoke(app, [*args, "--json"]).stdout)
    assert out["id"] == "m1" and out["near_copies"][0]["r"] == 0.99


def test_bad_weights_are_refused_before_the_library_runs(session: Session, monkeypatch) -> None:
    monkeypatch.setattr(merging, "merge", lambda *a: (_ for _ in ()).throw(AssertionError("merge ran")))
    r = CliRunner().invoke(app, ["merge", "v1", "v2", "--weights", "0.6,lots"])
    assert r.exit_code != 0 and "--weights" in str(r.exception)
