"""What kr ls / show / compare report: the headline validation metric, sorting, config differences."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaggle_runner.errors import UserError
from kaggle_runner.ledger import reports
from kaggle_runner.ledger.db import open_ledger


def _p(name, value, split=None, **kw):
    return {"name": name, "value": value, **({"split": split} if split else {}), **kw}


def test_headline_prefers_a_validation_score_over_losses_and_takes_its_last_value() -> None:
    points = [
        _p("loss", 0.6, "train", epoch=0),
        _p("loss", 0.5, "validation", epoch=0),
        _p("auc", 0.90, "validation", epoch=0),
        _p("auc", 0.93, "validation", epoch=1),
    ]
    assert reports.headline(points) == ("validation.auc", 0.93)
    assert reports.headline(points[:2]) == ("validation.loss", 0.5)  # only a loss: better than nothing
    assert reports.headline([_p("val_F1", 0.4, "validation"), _p("val_loss", 0.2, "validation")]) == ("val_F1", 0.4)
    assert reports.headline([_p("loss", 0.6, "train")]) is None
    assert reports.headline(points, "validation.loss") == ("validation.loss", 0.5)  # kr.yaml's metric: wins


def _run(ledger, version, message, public=None, config=None):
    rid = ledger.begin_push("main", "testuser/main", "cpu", "", message, "0" * 40, False, config or {}, {})
    ledger.finish_push(rid, version)
    ledger.set_status(rid, "COMPLETE")
    if public is not None:
        ledger.record_submission(
            "comp", 100 + version, run_id=rid, status="COMPLETE", public_score=public, date=f"2026-01-0{version}"
        )
    return rid


def test_ls_sorts_scores_best_first_and_keeps_unscored_last(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    _run(ledger, 1, "a", "0.91")
    _run(ledger, 2, "b")
    _run(ledger, 3, "c", "0.95")
    assert [r.id for r in reports.ls_rows(ledger, "main", None)] == ["v1", "v2", "v3"]
    assert [r.id for r in reports.ls_rows(ledger, "main", None, "public")] == ["v3", "v1", "v2"]
    assert [r.id for r in reports.ls_rows(ledger, "main", None, "public:asc")] == ["v1", "v3", "v2"]
    with pytest.raises(UserError, match="--sort: 'speed' is unknown"):
        reports.ls_rows(ledger, "main", None, "speed")


def test_compare_lists_only_config_keys_that_differ(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    a = _run(ledger, 1, "a", config={"kernels": {"main": {"accelerator": "cpu", "title": "T"}}})
    b = _run(ledger, 2, "b", config={"kernels": {"main": {"accelerator": "tpu", "title": "T"}}})
    ledger.record_metrics(a, [_p("auc", 0.9, "validation")])
    out = reports.compare([reports.column(ledger, ledger.run_by_id(r), "main") for r in (a, b)])
    assert out["config"] == {"kernels.main.accelerator": ["cpu", "tpu"]}
    assert out["metrics"] == {"validation.auc": [0.9, None]}
    shown = reports.show(ledger, ledger.run_by_id(b), "main", None)
    assert shown["config_diff"][2:] == [
        "@@ -2,3 +2,3 @@",
        "   main:",
        "-    accelerator: cpu",
        "+    accelerator: tpu",
        "     title: T",
    ]


def test_compare_with_a_merge_lists_no_kr_yaml_key_the_runs_share() -> None:
    """`kr compare v4 v6 m1` listed 16 identical kr.yaml rows as differing: a merge has no kr.yaml at all."""
    run = {"params": {}, "metrics": {}, "public": None}
    shared = {"kernels.main.accelerator": "tpu", "competition": "tiny-toxic"}
    columns = [
        {**run, "label": "v4", "config": {**shared, "params.lr": 1e-5}},
        {**run, "label": "v6", "config": {**shared, "params.lr": 2e-5}},
        {**run, "label": "m1", "config": {"merge.method": "mean", "merge.inputs": "v4 + v6"}},
    ]
    assert reports.compare(columns)["config"] == {"params.lr": [1e-5, 2e-5, None]}


def test_show_names_the_params_that_changed_since_the_previous_version(tmp_path: Path) -> None:
    """kr show v11 said `kr.yaml since v10: unchanged` when its params (a sweep point) differed."""
    ledger = open_ledger(tmp_path)
    for version, lr in ((10, 1e-5), (11, 2e-5)):
        rid = ledger.begin_push("main", "testuser/main", "cpu", "", "", None, False, {}, {}, {"lr": lr, "bs": 8})
        ledger.finish_push(rid, version)
    shown = reports.show(ledger, ledger.resolve("main:v11", "main"), "main", None)
    assert shown["previous"] == "v10" and shown["config_diff"] == [] and shown["params_diff"] == {"lr": [1e-5, 2e-5]}
