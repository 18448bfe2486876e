"""Scores a submission CSV against a competition's solution by Kaggle's rules: auc, accuracy, f1, logloss, rmse, mae,
rmsle, r2, mape, mcc, qwk, map@K and pauc. Header, ids and values are checked first; each problem is one line."""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import Any

# The metrics of Kaggle's featured and playground competitions of 2024-2026 (docs/kaggle-facts.md, "Scoring"):
# rmsle (house prices and many playgrounds), r2, mape, mcc (Playground S4E8), qwk (Automated Essay Scoring 2.0,
# Problematic Internet Use) and map@K (Eedi's MAP@25), beside the classic six. map@K is written with its K: map@25.
# pauc: the partial AUC above 80% true positive rate of ISIC 2024 (skin cancer detection).
METRICS = ("auc", "accuracy", "f1", "logloss", "rmse", "mae", "rmsle", "r2", "mape", "mcc", "qwk", "map@K", "pauc")
HIGHER_IS_BETTER = {
    "auc": True,
    "accuracy": True,
    "f1": True,
    "logloss": False,
    "rmse": False,
    "mae": False,
    "rmsle": False,
    "r2": True,
    "mape": False,
    "mcc": True,
    "qwk": True,
    "map@K": True,
    "pauc": True,
}
MIN_TPR = 0.8  # pauc's floor (ISIC 2024's evaluation page)
LABEL_METRICS = ("accuracy", "f1", "mcc", "qwk")  # scored on labels (text or numbers), not on probabilities
MAP_RE = re.compile(r"^map@([1-9][0-9]{0,3})$")
F1_AVERAGES = ("binary", "macro")
EPS = 1e-15  # Kaggle's log loss clips predictions to [EPS, 1 - EPS]


class ScoreError(ValueError):
    pass


def known(metric: str) -> bool:
    """Whether the emulator scores this metric (map@K with any K from 1 to 9999)."""
    return metric in METRICS and metric != "map@K" or bool(MAP_RE.match(metric))


def higher_is_better(metric: str) -> bool:
    """The direction a leaderboard of this metric is sorted in."""
    return HIGHER_IS_BETTER["map@K" if MAP_RE.match(metric) else metric]


def _auc(y: list[float], p: list[float]) -> float:
    pos = sum(1 for v in y if v == 1)
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        raise ScoreError("AUC needs both classes in each of the public and private parts of the solution")
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


def _partial_auc(y: list[float], p: list[float], min_tpr: float = MIN_TPR) -> float:
    """ISIC 2024's pAUC: the area under the ROC curve where the true positive rate is at least `min_tpr`, between 0
    and 1 - min_tpr. As its evaluation code has it: the area under the flipped problem's curve up to a false positive
    rate of 1 - min_tpr."""
    truth, score = [1 - v for v in y], [-v for v in p]
    pos = sum(1 for v in truth if v == 1)
    neg = len(truth) - pos
    if pos == 0 or neg == 0:
        raise ScoreError("pAUC needs both classes in each of the public and private parts of the solution")
    order = sorted(range(len(score)), key=lambda i: -score[i])
    fpr, tpr, tp, fp = [0.0], [0.0], 0, 0
    for n, i in enumerate(order):
        tp, fp = tp + int(truth[i] == 1), fp + int(truth[i] != 1)
        if n + 1 == len(order) or score[order[n + 1]] != score[i]:  # one point per distinct threshold
            fpr.append(fp / neg)
            tpr.append(tp / pos)
    max_fpr = 1 - min_tpr
    stop = next(k for k, f in enumerate(fpr) if f > max_fpr) if fpr[-1] > max_fpr else len(fpr)
    xs, ys = fpr[:stop], tpr[:stop]
    if stop < len(fpr):  # the curve interpolated at max_fpr
        x0, x1, y0, y1 = fpr[stop - 1], fpr[stop], tpr[stop - 1], tpr[stop]
        xs, ys = [*xs, max_fpr], [*ys, y0 + (y1 - y0) * (max_fpr - x0) / (x1 - x0)]
    # ISIC's code standardises this area as scikit-learn does (McClish) and then undoes it: the area itself
    return sum((xs[k + 1] - xs[k]) * (ys[k + 1] + ys[k]) / 2 for k in range(len(xs) - 1))


def _f1(y: list[str], p: list[str], average: str, positive: str) -> float:
    """F1 on labels: binary for the positive label, or the mean over the solution's and the predictions' labels."""
    labels = sorted(set(y) | set(p))
    if average == "binary":
        if len(labels) > 2 or (len(labels) == 2 and positive not in labels):
            raise ScoreError(
                f"binary F1 needs two labels, one of them '{positive}'; found {', '.join(labels)} "
                "(set f1Average: macro in competition.json for more classes)"
            )
        labels = [positive]
    scores = []
    for label in labels:
        tp = sum(1 for a, b in zip(y, p) if a == label and b == label)
        fp = sum(1 for a, b in zip(y, p) if a != label and b == label)
        fn = sum(1 for a, b in zip(y, p) if a == label and b != label)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def _binary_logloss(y: list[float], p: list[float]) -> float:
    total = 0.0
    for a, b in zip(y, p):
        b = min(max(b, EPS), 1 - EPS)
        total += a * math.log(b) + (1 - a) * math.log(1 - b)
    return -total / len(y)


def multiclass_logloss(y: list[list[float]], p: list[list[float]]) -> float:
    """Kaggle's multi-class log loss: each row of predictions divided by its sum, then clipped; y is one-hot."""
    total = 0.0
    for truth, row in zip(y, p):
        s = sum(row)
        if s <= 0:
            raise ScoreError("a row of predictions sums to 0; multi-class log loss needs probabilities")
        total += sum(t * math.log(min(max(v / s, EPS), 1 - EPS)) for t, v in zip(truth, row))
    return -total / len(y)


def _confusion(y: list[str], p: list[str]) -> tuple[list[str], list[list[int]]]:
    labels = sorted(set(y) | set(p), key=_label_order)
    at = {label: i for i, label in enumerate(labels)}
    counts = [[0] * len(labels) for _ in labels]
    for a, b in zip(y, p):
        counts[at[a]][at[b]] += 1
    return labels, counts


def _label_order(text: str) -> tuple[int, float, str]:
    try:
        return (0, float(text), "")  # numbers by value: 2 before 10
    except ValueError:
        return (1, 0.0, text)


def _mcc(y: list[str], p: list[str]) -> float:
    """Matthews correlation over any number of classes (Gorodkin's R_K); 0 where it is undefined, as scikit-learn."""
    _, c = _confusion(y, p)
    n = len(y)
    truth = [sum(row) for row in c]
    pred = [sum(col) for col in zip(*c)]
    trace = sum(c[i][i] for i in range(len(c)))
    cov = trace * n - sum(t * q for t, q in zip(truth, pred))
    denom = math.sqrt((n * n - sum(q * q for q in pred)) * (n * n - sum(t * t for t in truth)))
    return cov / denom if denom else 0.0


def _qwk(y: list[str], p: list[str]) -> float:
    """Quadratic weighted kappa (Cohen's, quadratic weights over the ordered labels), as scikit-learn computes it."""
    labels, observed = _confusion(y, p)
    k, n = len(labels), len(y)
    truth = [sum(row) for row in observed]
    pred = [sum(col) for col in zip(*observed)]
    disagreement = chance = 0.0
    for i in range(k):
        for j in range(k):
            w = (i - j) ** 2
            disagreement += w * observed[i][j]
            chance += w * truth[i] * pred[j] / n
    return 1.0 - disagreement / chance if chance else 1.0


def _apk(actual: set[str], predicted: list[str], k: int) -> float:
    """Average precision at k of one row (Kaggle's formula): a repeated prediction counts once."""
    hits, total, seen = 0, 0.0, set()
    for i, guess in enumerate(predicted[:k]):
        if guess in actual and guess not in seen:
            hits += 1
            total += hits / (i + 1)
        seen.add(guess)
    return total / min(len(actual), k) if actual else 0.0


def metric_value(metric: str, y: list, p: list, average: str = "binary", positive: str = "1") -> float:
    """One column's score: numbers for auc, logloss and the regression metrics; labels (text) for accuracy, f1, mcc
    and qwk; space-separated labels for map@K."""
    if not y:
        raise ScoreError("empty solution subset")
    if m := MAP_RE.match(metric):
        k = int(m[1])
        return sum(_apk(set(a.split()), b.split(), k) for a, b in zip(y, p)) / len(y)
    if metric == "auc":
        return _auc(y, p)
    if metric == "pauc":
        return _partial_auc(y, p)
    if metric == "accuracy":
        return sum(1 for a, b in zip(y, p) if a == b) / len(y)
    if metric == "f1":
        return _f1(y, p, average, positive)
    if metric == "logloss":
        return _binary_logloss(y, p)
    if metric == "rmse":
        return math.sqrt(sum((a - b) ** 2 for a, b in zip(y, p)) / len(y))
    if metric == "mae":
        return sum(abs(a - b) for a, b in zip(y, p)) / len(y)
    if metric == "rmsle":
        if any(v < 0 for v in (*y, *p)):
            raise ScoreError("RMSLE is undefined for negative values; clip the predictions at 0")
        return math.sqrt(sum((math.log1p(a) - math.log1p(b)) ** 2 for a, b in zip(y, p)) / len(y))
    if metric == "r2":
        mean = sum(y) / len(y)
        residual, spread = sum((a - b) ** 2 for a, b in zip(y, p)), sum((a - mean) ** 2 for a in y)
        return 1.0 - residual / spread if spread else (1.0 if residual == 0 else 0.0)
    if metric == "mape":
        return sum(abs(a - b) / max(abs(a), 2.220446049250313e-16) for a, b in zip(y, p)) / len(y)
    if metric == "mcc":
        return _mcc(y, p)
    if metric == "qwk":
        return _qwk(y, p)
    raise ScoreError(f"unknown metric '{metric}'")


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ScoreError(f"{where}: '{text}' is not a number") from None
    if math.isnan(value) or math.isinf(value):
        raise ScoreError(f"{where}: '{text}' is not a finite number")
    return value


def label(text: str) -> str:
    """A label as compared: trimmed, and a whole number written one way (`1`, `1.0` and `1.` are one label)."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() else text


def _is_fraction(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and not value.is_integer()


def _rows(path: Path, what: str) -> list[list[str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # a byte-order mark is tolerated, as on Kaggle
            return list(csv.reader(f))
    except (UnicodeDecodeError, csv.Error) as e:
        raise ScoreError(f"{what} is not a readable UTF-8 CSV ({e})") from None


def score(
    solution: Path,
    submission: Path,
    metric: str,
    id_column: str,
    targets: list[str],
    f1_average: str = "binary",
    positive_label: str = "1",
) -> tuple[float, float]:
    """(public, private) score; raises ScoreError with a one-line description."""
    truth = _solution(solution, id_column, targets)
    rows = _rows(submission, "submission")
    if not rows:
        raise ScoreError("submission is empty")
    header = [h.strip() for h in rows[0]]
    expected = [id_column, *targets]
    if sorted(header) != sorted(expected):
        raise ScoreError(f"submission header must be {','.join(expected)}; got {','.join(header)}")
    idx = {name: header.index(name) for name in expected}
    labels = metric in LABEL_METRICS
    ranked = bool(MAP_RE.match(metric))  # space-separated guesses, best first
    preds: dict[str, list] = {}
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
        if ranked:
            preds[rid] = [" ".join(label(g) for g in row[idx[t]].split()) for t in targets]
        elif labels:
            preds[rid] = [_label_cell(row[idx[t]], f"row {n}, column {t}", metric) for t in targets]
        else:
            preds[rid] = [_number(row[idx[t]], f"row {n}, column {t}") for t in targets]
    missing = [i for i in truth if i not in preds]
    if missing:
        raise ScoreError(f"submission is missing {len(missing)} ids (first: '{missing[0]}')")

    def subset_score(usage: str) -> float:
        ids = [i for i, (use, _) in truth.items() if use == usage]
        if not ids:
            raise ScoreError(f"the competition's solution has no {usage.title()} rows (its Usage column)")
        y_cols: list[list[Any]]
        if ranked:
            y_cols = [[" ".join(label(g) for g in truth[i][1][c].split()) for i in ids] for c in range(len(targets))]
        elif labels:
            y_cols = [[label(truth[i][1][c]) for i in ids] for c in range(len(targets))]
        else:
            y_cols = [[_number(truth[i][1][c], f"solution id {i}") for i in ids] for c in range(len(targets))]
        p_cols = [[preds[i][c] for i in ids] for c in range(len(targets))]
        if metric == "logloss" and len(targets) > 1:  # one-hot columns are the classes of one prediction
            return multiclass_logloss([list(r) for r in zip(*y_cols)], [list(r) for r in zip(*p_cols)])
        scores = [metric_value(metric, y, p, f1_average, label(positive_label)) for y, p in zip(y_cols, p_cols)]
        return sum(scores) / len(scores)  # AUC and the others over several columns: the mean of the columns

    return subset_score("public"), subset_score("private")


def _label_cell(text: str, where: str, metric: str) -> str:
    if not text.strip():
        raise ScoreError(f"{where}: blank; {metric} scores a label in every row")
    if _is_fraction(text):
        raise ScoreError(
            f"{where}: '{text}' looks like a probability; {metric} scores labels (such as 0 or 1), "
            "so round or threshold the predictions first"
        )
    return label(text)


def _solution(path: Path, id_column: str, targets: list[str]) -> dict[str, tuple[str, list[str]]]:
    """id -> (usage, target cells); `Usage` (any case, values too) says public or private, public when absent."""
    rows = _rows(path, "the competition's solution file")
    if not rows:
        raise ScoreError("the competition's solution file is empty")
    header = [h.strip() for h in rows[0]]
    lower = [h.lower() for h in header]
    for name in (id_column, *targets):
        if name not in header:
            raise ScoreError(f"the competition's solution file has no column '{name}' (columns: {', '.join(header)})")
    usage = lower.index("usage") if "usage" in lower else None
    at = [header.index(t) for t in targets]
    key = header.index(id_column)
    truth: dict[str, tuple[str, list[str]]] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise ScoreError(f"the competition's solution file: row {n} has {len(row)} columns, not {len(header)}")
        use = row[usage].strip().lower() if usage is not None else "public"
        truth[row[key]] = (use, [row[i] for i in at])
    return truth


def check_solution(path: Path, id_column: str, targets: list[str]) -> None:
    """Refuse a solution Kaggle could not score: unreadable, without a column, or with an empty Public or Private
    part (Kaggle scores the two apart; an empty one would score nothing, or every id)."""
    uses = {use for use, _ in _solution(path, id_column, targets).values()}
    for usage in ("public", "private"):
        if usage not in uses:
            raise ScoreError(f"{path.name} has no {usage.title()} rows; give a Usage column with Public and Private")
