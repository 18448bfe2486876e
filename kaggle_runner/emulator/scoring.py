"""Scores a submission CSV against a competition's solution: auc, accuracy, f1, logloss, rmse, mae.
Checks header, ids (missing, duplicate, unknown) and values first; each problem is one line naming the row."""

from __future__ import annotations

import csv
import math
from pathlib import Path

METRICS = ("auc", "accuracy", "f1", "logloss", "rmse", "mae")
HIGHER_IS_BETTER = {"auc": True, "accuracy": True, "f1": True, "logloss": False, "rmse": False, "mae": False}


class ScoreError(ValueError):
    pass


def _auc(y: list[float], p: list[float]) -> float:
    pos = sum(1 for v in y if v == 1)
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        raise ScoreError("AUC needs both classes in the solution subset")
    order = sorted(range(len(p)), key=lambda i: p[i])
    ranks = [0.0] * len(p)
    i = 0
    while i < len(order):  # average ranks over ties
        j = i
        while j + 1 < len(order) and p[order[j + 1]] == p[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = sum(r for r, v in zip(ranks, y) if v == 1)
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def _f1(y: list[float], p: list[float]) -> float:
    pred = [1 if v >= 0.5 else 0 for v in p]
    tp = sum(1 for a, b in zip(y, pred) if a == 1 and b == 1)
    fp = sum(1 for a, b in zip(y, pred) if a != 1 and b == 1)
    fn = sum(1 for a, b in zip(y, pred) if a == 1 and b != 1)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _logloss(y: list[float], p: list[float]) -> float:
    eps = 1e-15
    return -sum(
        a * math.log(min(max(b, eps), 1 - eps)) + (1 - a) * math.log(1 - min(max(b, eps), 1 - eps))
        for a, b in zip(y, p)
    ) / len(y)


def metric_value(metric: str, y: list[float], p: list[float]) -> float:
    if not y:
        raise ScoreError("empty solution subset")
    if metric == "auc":
        return _auc(y, p)
    if metric == "accuracy":
        return sum(1 for a, b in zip(y, p) if a == b) / len(y)
    if metric == "f1":
        return _f1(y, p)
    if metric == "logloss":
        return _logloss(y, p)
    if metric == "rmse":
        return math.sqrt(sum((a - b) ** 2 for a, b in zip(y, p)) / len(y))
    if metric == "mae":
        return sum(abs(a - b) for a, b in zip(y, p)) / len(y)
    raise ScoreError(f"unknown metric '{metric}'")


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ScoreError(f"{where}: '{text}' is not a number") from None
    if math.isnan(value) or math.isinf(value):
        raise ScoreError(f"{where}: '{text}' is not a finite number")
    return value


def score(solution: Path, submission: Path, metric: str, id_column: str, targets: list[str]) -> tuple[float, float]:
    """(public, private) score; raises ScoreError with a one-line description."""
    with open(solution, newline="", encoding="utf-8") as f:
        truth = {row[id_column]: row for row in csv.DictReader(f)}
    try:
        f = open(submission, newline="", encoding="utf-8-sig")
        rows = list(csv.reader(f))
        f.close()
    except (UnicodeDecodeError, csv.Error) as e:
        raise ScoreError(f"submission is not a readable UTF-8 CSV ({e})") from None
    if not rows:
        raise ScoreError("submission is empty")
    header = [h.strip() for h in rows[0]]
    expected = [id_column, *targets]
    if sorted(header) != sorted(expected):
        raise ScoreError(f"submission header must be {','.join(expected)}; got {','.join(header)}")
    idx = {name: header.index(name) for name in expected}
    preds: dict[str, list[float]] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise ScoreError(f"row {n}: expected {len(header)} columns, got {len(row)}")
        rid = row[idx[id_column]]
        if rid in preds:
            raise ScoreError(f"row {n}: duplicate id '{rid}'")
        if rid not in truth:
            raise ScoreError(f"row {n}: id '{rid}' is not in the test set")
        preds[rid] = [_number(row[idx[t]], f"row {n}, column {t}") for t in targets]
    missing = [i for i in truth if i not in preds]
    if missing:
        raise ScoreError(f"submission is missing {len(missing)} ids (first: '{missing[0]}')")

    def subset_score(usage: str) -> float:
        ids = [i for i, r in truth.items() if r.get("Usage", "Public").lower() == usage] or list(truth)
        per_column = []
        for c, t in enumerate(targets):
            y = [_number(truth[i][t], f"solution id {i}") for i in ids]
            per_column.append(metric_value(metric, y, [preds[i][c] for i in ids]))
        return sum(per_column) / len(per_column)

    return subset_score("public"), subset_score("private")
