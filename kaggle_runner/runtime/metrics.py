"""Metrics competitors report, on numpy labels and predicted probabilities: AUC, F1, MCC, accuracy. Binary ones read
column 0 of several (main target first) or a two-class softmax's positive column; accuracy and MCC take argmax."""

from __future__ import annotations

import numpy as np


def _binary(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y, p = np.asarray(y), np.asarray(p, dtype=np.float64)
    if p.ndim == 2 and y.ndim == 1 and p.shape[1] == 2:
        p = p[:, 1]  # two-class softmax: the positive class
    y = y.reshape(len(y), -1)[:, 0]
    p = p.reshape(len(p), -1)[:, 0]
    if len(y) != len(p):
        raise ValueError(f"{len(y)} labels but {len(p)} predictions")
    return y.astype(np.float64), p


def _ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    starts = np.r_[0, np.flatnonzero(xs[1:] != xs[:-1]) + 1]
    ends = np.r_[starts[1:], len(xs)]
    ranks = np.empty(len(x))
    ranks[order] = np.repeat((starts + ends + 1) / 2, ends - starts)
    return ranks


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC: the chance a random positive scores above a random negative (ties count half)."""
    y, p = _binary(y, p)
    pos = y > 0.5
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")  # undefined with one class; reported as null, never as a made-up 0.5
    return float((_ranks(p)[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _labels(y: np.ndarray, p: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(p)
    if p.ndim == 2 and np.asarray(y).ndim == 1 and p.shape[1] > 2:
        return np.asarray(y).astype(np.int64), p.argmax(axis=1)
    yb, pb = _binary(y, p)
    return (yb > 0.5).astype(np.int64), (pb >= threshold).astype(np.int64)


def accuracy(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> float:
    """The share of rows whose label (p above `threshold`, or the argmax) equals y."""
    t, q = _labels(y, p, threshold)
    return float((t == q).mean())


def f1(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> float:
    """Binary F1 of the positive class at `threshold`."""
    yb, pb = _binary(y, p)
    t, q = yb > 0.5, pb >= threshold
    tp = float((t & q).sum())
    denom = 2 * tp + float((t ^ q).sum())
    return 2 * tp / denom if denom else 0.0


def mcc(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> float:
    """Matthews correlation coefficient (binary at `threshold`, or multi-class from argmax)."""
    t, q = _labels(y, p, threshold)
    k = int(max(t.max(initial=0), q.max(initial=0))) + 1
    c = np.zeros((k, k))
    np.add.at(c, (t, q), 1)
    n, correct = c.sum(), np.trace(c)
    truth, pred = c.sum(axis=1), c.sum(axis=0)
    denom = np.sqrt((n * n - (pred * pred).sum()) * (n * n - (truth * truth).sum()))
    return float((correct * n - (truth * pred).sum()) / denom) if denom else 0.0
