"""AUC, F1, MCC and accuracy against their definitions, counted pair by pair or cell by cell."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kaggle_runner.runtime import metrics

RNG = np.random.default_rng(7)


def auc_by_pairs(y: np.ndarray, p: np.ndarray) -> float:
    pos, neg = p[y == 1], p[y == 0]
    return sum((a > b) + 0.5 * (a == b) for a in pos for b in neg) / (len(pos) * len(neg))


def test_auc_with_ties_equals_the_pairwise_definition() -> None:
    y = RNG.integers(0, 2, 300)
    p = np.round(RNG.random(300), 1)  # many ties
    assert metrics.auc(y, p) == pytest.approx(auc_by_pairs(y, p))
    assert metrics.auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)


def test_auc_reads_the_main_column_and_the_positive_softmax_column() -> None:
    y = RNG.integers(0, 2, 50)
    p = RNG.random(50)
    with_aux = np.c_[p, RNG.random(50)]
    assert metrics.auc(np.c_[y, 1 - y], with_aux) == pytest.approx(auc_by_pairs(y, p))
    assert metrics.auc(y, np.c_[1 - p, p]) == pytest.approx(auc_by_pairs(y, p))
    assert math.isnan(metrics.auc([1, 1], [0.2, 0.3]))  # one class: undefined, not a made-up 0.5


def test_f1_mcc_accuracy_from_the_confusion_matrix() -> None:
    y = RNG.integers(0, 2, 200)
    p = RNG.random(200)
    q = p >= 0.5
    tp, fp = int(((y == 1) & q).sum()), int(((y == 0) & q).sum())
    fn, tn = int(((y == 1) & ~q).sum()), int(((y == 0) & ~q).sum())
    assert metrics.f1(y, p) == pytest.approx(2 * tp / (2 * tp + fp + fn))
    mcc = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert metrics.mcc(y, p) == pytest.approx(mcc)
    assert metrics.accuracy(y, p) == pytest.approx((tp + tn) / 200)
    assert metrics.f1(y, p, threshold=0.9) != metrics.f1(y, p)


def test_multiclass_accuracy_and_mcc_use_argmax() -> None:
    y = np.array([0, 1, 2, 2, 1])
    p = np.array([[0.8, 0.1, 0.1], [0.1, 0.7, 0.2], [0.2, 0.2, 0.6], [0.5, 0.4, 0.1], [0.1, 0.8, 0.1]])
    assert metrics.accuracy(y, p) == pytest.approx(0.8)
    truth, pred = np.eye(3)[y], np.eye(3)[p.argmax(1)]  # Gorodkin's R_K: covariance of the one-hot matrices
    cov = lambda a, b: float(((a - a.mean(0)) * (b - b.mean(0))).sum())  # noqa: E731
    assert metrics.mcc(y, p) == pytest.approx(cov(truth, pred) / np.sqrt(cov(truth, truth) * cov(pred, pred)))
    assert metrics.mcc(y, np.eye(3)[y]) == pytest.approx(1.0)
