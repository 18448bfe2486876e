"""Submission scoring by Kaggle's rules: each metric against scikit-learn (the reference) on random data, labels and
probabilities told apart, and each refusal with its row; no scoring failure leaves a submission PENDING."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sklearn import metrics as skm  # the reference (the [dev] extra)

from kaggle_runner.emulator.scoring import ScoreError, check_solution, metric_value, score


@pytest.mark.parametrize(
    "metric, y, p, expected",
    [
        ("auc", [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.75),
        ("auc", [0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.5),  # ties count half
        ("accuracy", [0, 1, 1, 0], [0, 1, 0, 0], 0.75),
        ("f1", ["1", "1", "0", "0"], ["1", "0", "1", "0"], 0.5),  # tp=1 fp=1 fn=1
        ("logloss", [1, 0], [0.8, 0.3], -(math.log(0.8) + math.log(0.7)) / 2),
        ("rmse", [1.0, 2.0, 3.0], [1.0, 2.0, 5.0], math.sqrt(4 / 3)),
        ("mae", [1.0, 2.0, 3.0], [2.0, 2.0, 5.0], 1.0),
    ],
)
def test_metrics(metric: str, y: list, p: list, expected: float) -> None:
    assert metric_value(metric, y, p) == pytest.approx(expected)


def _files(tmp_path: Path, submission: str) -> tuple[Path, Path]:
    sol = tmp_path / "solution.csv"
    sol.write_text("id,toxic,Usage\n001,1,Public\n002,0,Public\n003,1,Private\n004,0,Private\n")
    sub = tmp_path / "sub.csv"
    sub.write_text(submission)
    return sol, sub


def test_public_and_private_split(tmp_path: Path) -> None:
    sol, sub = _files(tmp_path, "id,toxic\n004,0.2\n003,0.1\n002,0.3\n001,0.9\n")  # any row order
    public, private = score(sol, sub, "auc", "id", ["toxic"])
    assert (public, private) == (1.0, 0.0)


@pytest.mark.parametrize(
    "submission, message",
    [
        ("id,target\n001,1\n", "header must be id,toxic"),
        ("id,toxic\n001,1\n002,0\n003,1\n", "missing 1 ids (first: '004')"),
        ("id,toxic\n001,1\n001,0\n003,1\n004,0\n", "row 3: duplicate id '001'"),
        ("id,toxic\n001,1\n002,0\n003,1\n4,0\n", "row 5: id '4' is not in the test set"),
        ("id,toxic\n001,1\n002,nan\n003,1\n004,0\n", "row 3, column toxic: 'nan' is not a finite number"),
        ("id,toxic\n001,1\n002,high\n003,1\n004,0\n", "row 3, column toxic: 'high' is not a number"),
        ("", "submission is empty"),
    ],
)
def test_refusals_name_the_problem(tmp_path: Path, submission: str, message: str) -> None:
    sol, sub = _files(tmp_path, submission)
    with pytest.raises(ScoreError) as e:
        score(sol, sub, "auc", "id", ["toxic"])
    assert message in str(e.value)


def _csv(path: Path, header: list[str], rows: list[list]) -> Path:
    path.write_text("\n".join(",".join(str(v) for v in r) for r in [header, *rows]) + "\n")
    return path


def _case(tmp_path: Path, n: int, seed: int, targets: list[str], truth, pred) -> tuple[Path, Path, list[str]]:
    """A solution (half public, half private) and a submission drawn from `truth(rng)` and `pred(rng, y)`."""
    import random

    rng = random.Random(seed)
    usage = ["Public" if i % 2 else "Private" for i in range(n)]
    y = [truth(rng) for _ in range(n)]
    p = [pred(rng, v) for v in y]
    sol = _csv(
        tmp_path / "solution.csv", ["id", *targets, "Usage"], [[i, *v, u] for i, (v, u) in enumerate(zip(y, usage))]
    )
    sub = _csv(tmp_path / "sub.csv", ["id", *targets], [[i, *v] for i, v in enumerate(p)])
    return sol, sub, usage


def _parts(values: list, usage: list[str], part: str) -> list:
    return [v for v, u in zip(values, usage) if u == part]


def _column(path: Path, cast: Callable[[str], Any] = float) -> list:
    """The second column of a two-column CSV, below its header."""
    return [cast(line.split(",")[1]) for line in path.read_text().splitlines()[1:]]


@pytest.mark.parametrize("seed", range(3))
def test_auc_per_column_averaged_as_scikit_learn(tmp_path: Path, seed: int) -> None:
    sol, sub, usage = _case(
        tmp_path,
        200,
        seed,
        ["a", "b"],
        lambda r: [r.randint(0, 1), r.randint(0, 1)],
        lambda r, y: [round(r.random() * 0.6 + 0.4 * y[0], 3), round(r.random(), 2)],
    )
    public, private = score(sol, sub, "auc", "id", ["a", "b"])
    rows = [line.split(",") for line in sol.read_text().splitlines()[1:]]
    preds = [line.split(",") for line in sub.read_text().splitlines()[1:]]
    for part, got in (("Public", public), ("Private", private)):
        want = (
            sum(
                skm.roc_auc_score(
                    _parts([int(r[c]) for r in rows], usage, part), _parts([float(p[c]) for p in preds], usage, part)
                )
                for c in (1, 2)
            )
            / 2
        )
        assert got == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_multiclass_logloss_normalises_rows_and_clips_as_kaggle(tmp_path: Path, seed: int) -> None:
    classes = ["cat", "dog", "bird"]

    def pred(r, y):
        row = [r.random() * 3 for _ in classes]  # not summing to 1: Kaggle divides each row by its sum
        row[r.randint(0, 2)] = 0  # and a zero is clipped, not an infinite loss
        return [round(v, 4) for v in row]

    sol, sub, usage = _case(tmp_path, 150, seed, classes, lambda r: [int(i == r.randint(0, 2)) for i in range(3)], pred)
    public, private = score(sol, sub, "logloss", "id", classes)
    y = [[int(v) for v in line.split(",")[1:4]] for line in sol.read_text().splitlines()[1:]]
    p = [[float(v) for v in line.split(",")[1:]] for line in sub.read_text().splitlines()[1:]]
    for part, got in (("Public", public), ("Private", private)):
        probs = [[v / sum(row) for v in row] for row in _parts(p, usage, part)]
        clipped = [[min(max(v, 1e-15), 1 - 1e-15) for v in row] for row in probs]
        want = skm.log_loss(_parts(y, usage, part), clipped)
        assert got == pytest.approx(want, rel=1e-9)
        assert got != pytest.approx(  # what scoring each column as a binary log loss would have given
            sum(
                skm.log_loss(
                    [r[c] for r in _parts(y, usage, part)],
                    [min(max(r[c], 1e-15), 1 - 1e-15) for r in probs],
                    labels=[0, 1],
                )
                for c in range(3)
            )
            / 3
        )


@pytest.mark.parametrize("average", ["binary", "macro"])
@pytest.mark.parametrize("labels", [["0", "1"], ["cat", "dog", "bird"], ["True", "False"]])
def test_f1_and_accuracy_on_labels_as_scikit_learn(tmp_path: Path, average: str, labels: list[str]) -> None:
    positive = labels[-1] if labels[0] != "0" else "1"
    sol, sub, usage = _case(
        tmp_path,
        120,
        7,
        ["label"],
        lambda r: [r.choice(labels)],
        lambda r, y: [y[0] if r.random() < 0.7 else r.choice(labels)],
    )
    y = [line.split(",")[1] for line in sol.read_text().splitlines()[1:]]
    p = [line.split(",")[1] for line in sub.read_text().splitlines()[1:]]
    if average == "binary" and len(labels) > 2:
        with pytest.raises(ScoreError, match="binary F1 needs two labels"):
            score(sol, sub, "f1", "id", ["label"], average, positive)
    else:
        got = score(sol, sub, "f1", "id", ["label"], average, positive)
        kw = {"pos_label": positive} if average == "binary" else {}
        want = [
            skm.f1_score(_parts(y, usage, u), _parts(p, usage, u), average=average, **kw) for u in ("Public", "Private")
        ]
        assert got == pytest.approx(tuple(want), abs=1e-12)
    acc = score(sol, sub, "accuracy", "id", ["label"])
    assert acc == pytest.approx(
        tuple(skm.accuracy_score(_parts(y, usage, u), _parts(p, usage, u)) for u in ("Public", "Private"))
    )


def test_regression_metrics_as_scikit_learn(tmp_path: Path) -> None:
    sol, sub, usage = _case(
        tmp_path, 100, 3, ["y"], lambda r: [round(r.gauss(0, 3), 3)], lambda r, y: [round(y[0] + r.gauss(0, 1), 3)]
    )
    y = _column(sol)
    p = _column(sub)
    for metric, ref in (
        ("rmse", lambda a, b: skm.mean_squared_error(a, b) ** 0.5),
        ("mae", skm.mean_absolute_error),
    ):
        want = tuple(ref(_parts(y, usage, u), _parts(p, usage, u)) for u in ("Public", "Private"))
        assert score(sol, sub, metric, "id", ["y"]) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_rmsle_r2_and_mape_as_scikit_learn(tmp_path: Path, seed: int) -> None:
    """House prices' RMSLE and the playgrounds' R2 and MAPE, on positive targets such as prices."""
    sol, sub, usage = _case(
        tmp_path,
        120,
        seed,
        ["SalePrice"],
        lambda r: [round(r.lognormvariate(12, 0.4), 2)],
        lambda r, y: [round(max(0.0, y[0] * r.gauss(1, 0.15)), 2)],
    )
    y = _column(sol)
    p = _column(sub)
    for metric, ref in (
        ("rmsle", skm.root_mean_squared_log_error),
        ("r2", skm.r2_score),
        ("mape", skm.mean_absolute_percentage_error),
    ):
        want = tuple(ref(_parts(y, usage, u), _parts(p, usage, u)) for u in ("Public", "Private"))
        assert score(sol, sub, metric, "id", ["SalePrice"]) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_partial_auc_above_80_percent_tpr_as_isic_2024_computes_it(tmp_path: Path, seed: int) -> None:
    """ISIC 2024's evaluation code, with scikit-learn: roc_auc_score(1 - y, -p, max_fpr=0.2), scaled back."""
    sol, sub, usage = _case(
        tmp_path,
        300,
        seed,
        ["target"],
        lambda r: [int(r.random() < 0.3)],
        lambda r, y: [round(min(1.0, max(0.0, 0.35 * y[0] + r.random() * 0.7)), 2)],  # ties, as rounding makes
    )
    y = _column(sol, int)
    p = _column(sub)

    def isic(a: list[int], b: list[float]) -> float:
        max_fpr = 0.2
        scaled = skm.roc_auc_score([1 - v for v in a], [-v for v in b], max_fpr=max_fpr)
        return 0.5 * max_fpr**2 + (max_fpr - 0.5 * max_fpr**2) / (1.0 - 0.5) * (scaled - 0.5)

    want = tuple(isic(_parts(y, usage, u), _parts(p, usage, u)) for u in ("Public", "Private"))
    assert score(sol, sub, "pauc", "id", ["target"]) == pytest.approx(want, abs=1e-12)


def test_rmsle_refuses_negative_predictions(tmp_path: Path) -> None:
    sol = _csv(tmp_path / "solution.csv", ["id", "y", "Usage"], [[1, 3, "Public"], [2, 4, "Private"]])
    sub = _csv(tmp_path / "sub.csv", ["id", "y"], [[1, -1], [2, 4]])
    with pytest.raises(ScoreError, match="RMSLE is undefined for negative values"):
        score(sol, sub, "rmsle", "id", ["y"])


@pytest.mark.parametrize("seed", range(3))
def test_mcc_and_quadratic_weighted_kappa_as_scikit_learn(tmp_path: Path, seed: int) -> None:
    """MCC (Playground S4E8, two classes) and QWK (essay scores 1-6, where 10 must sort after 9)."""
    for metric, labels, ref in (
        ("mcc", ["e", "p"], skm.matthews_corrcoef),
        ("mcc", ["a", "b", "c"], skm.matthews_corrcoef),
        ("qwk", [1, 2, 3, 4, 5, 6, 10], lambda a, b: skm.cohen_kappa_score(a, b, weights="quadratic")),
    ):
        sol, sub, usage = _case(
            tmp_path,
            150,
            seed,
            ["score"],
            lambda r, labels=labels: [r.choice(labels)],
            lambda r, y, labels=labels: [y[0] if r.random() < 0.6 else r.choice(labels)],
        )
        cast = int if metric == "qwk" else str
        y = _column(sol, cast)
        p = _column(sub, cast)
        want = tuple(ref(_parts(y, usage, u), _parts(p, usage, u)) for u in ("Public", "Private"))
        assert score(sol, sub, metric, "id", ["score"]) == pytest.approx(want, abs=1e-12)


def test_map_at_k_by_kaggles_formula(tmp_path: Path) -> None:
    """MAP@K (Eedi's MAP@25 at K=3 here): a hit at rank r counts 1/r, beyond K nothing, a repeated guess once."""
    sol = _csv(
        tmp_path / "solution.csv",
        ["id", "MisconceptionId", "Usage"],
        [[1, 7, "Public"], [2, 3, "Public"], [3, 5, "Private"], [4, 9, "Private"]],
    )
    sub = _csv(
        tmp_path / "sub.csv", ["id", "MisconceptionId"], [[1, "7 1 2"], [2, "1 3 3"], [3, "1 2 4 5"], [4, "9.0"]]
    )
    public, private = score(sol, sub, "map@3", "id", ["MisconceptionId"])
    assert public == pytest.approx((1 + 1 / 2) / 2)  # rank 1, rank 2
    assert private == pytest.approx((0 + 1) / 2)  # 5 comes fourth, past K; 9.0 is the label 9
    assert metric_value("map@2", ["1 2"], ["2 1"]) == pytest.approx(1.0)  # two answers, both found


def test_a_solution_without_a_private_part_is_refused_not_scored_on_every_id(tmp_path: Path) -> None:
    sol = _csv(tmp_path / "solution.csv", ["id", "toxic", "Usage"], [[1, 1, "Public"], [2, 0, "Public"]])
    sub = _csv(tmp_path / "sub.csv", ["id", "toxic"], [[1, 0.9], [2, 0.1]])
    with pytest.raises(ScoreError, match="no Private rows"):
        score(sol, sub, "auc", "id", ["toxic"])
    with pytest.raises(ScoreError, match="solution.csv has no Private rows"):
        check_solution(sol, "id", ["toxic"])


def test_probabilities_sent_to_a_label_metric_are_refused_not_scored_zero(tmp_path: Path) -> None:
    sol, sub = _files(tmp_path, "id,toxic\n001,0.91\n002,0.12\n003,0.8\n004,0.3\n")
    with pytest.raises(
        ScoreError, match="row 2, column toxic: '0.91' looks like a probability; accuracy scores labels"
    ):
        score(sol, sub, "accuracy", "id", ["toxic"])
    sub.write_text("id,toxic\n001,1.0\n002,0\n003,1.\n004,1\n")  # whole numbers written any way are labels
    assert score(sol, sub, "accuracy", "id", ["toxic"]) == (1.0, 0.5)


def test_a_split_with_one_class_is_scored_where_the_metric_allows(tmp_path: Path) -> None:
    sol = _csv(
        tmp_path / "solution.csv",
        ["id", "toxic", "Usage"],
        [[1, 1, "Public"], [2, 1, "Public"], [3, 0, "Private"], [4, 1, "Private"]],
    )
    sub = _csv(tmp_path / "sub.csv", ["id", "toxic"], [[1, 1], [2, 0], [3, 0], [4, 1]])
    assert score(sol, sub, "accuracy", "id", ["toxic"]) == (0.5, 1.0)
    assert score(sol, sub, "f1", "id", ["toxic"]) == pytest.approx((2 / 3, 1.0))
    with pytest.raises(ScoreError, match="AUC needs both classes"):
        score(sol, sub, "auc", "id", ["toxic"])


def test_bom_and_usage_in_any_case(tmp_path: Path) -> None:
    sol = tmp_path / "solution.csv"
    sol.write_bytes("\ufeffid,toxic,usage\n001,1,PUBLIC\n002,0,public\n003,1,Private\n004,0,PRIVATE\n".encode())
    sub = tmp_path / "sub.csv"
    sub.write_bytes("\ufeffid,toxic\n001,0.9\n002,0.1\n003,0.2\n004,0.8\n".encode())
    assert score(sol, sub, "auc", "id", ["toxic"]) == (1.0, 0.0)


def test_a_solution_without_the_id_column_is_a_clear_error(tmp_path: Path) -> None:
    sol, sub = _files(tmp_path, "id,toxic\n001,1\n")
    with pytest.raises(ScoreError, match="solution file has no column 'qid'"):
        score(sol, sub, "auc", "qid", ["toxic"])
