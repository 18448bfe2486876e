"""Losses competitors use on top of the usual ones: label smoothing with auxiliary targets, and focal loss.
Both take logits; `for_activation` gives fit()'s default loss for an output activation."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _columns(t: torch.Tensor, n: int) -> torch.Tensor:
    return t.reshape(n, -1)


class SmoothBCE(nn.Module):
    """Binary cross-entropy with label smoothing (targets pulled towards 0.5 by `smoothing`).
    Column 0 is the main target; further columns are auxiliary targets (e.g. Jigsaw's severe_toxic, obscene,
    ...) weighted by `aux_weight`. Targets may have fewer columns than the logits: a validation set with the
    main label only gives the main loss."""

    def __init__(self, smoothing: float = 0.0, aux_weight: float = 1.0) -> None:
        super().__init__()
        if not 0 <= smoothing < 1:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.smoothing, self.aux_weight = smoothing, aux_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The smoothed binary cross-entropy of the logits against the targets."""
        n = logits.shape[0]
        logits, target = _columns(logits, n), _columns(target, n).to(logits.dtype)
        target = target * (1 - self.smoothing) + 0.5 * self.smoothing
        loss = F.binary_cross_entropy_with_logits(logits[:, 0], target[:, 0])
        k = min(logits.shape[1], target.shape[1])
        if k > 1:
            loss = loss + self.aux_weight * F.binary_cross_entropy_with_logits(logits[:, 1:k], target[:, 1:k])
        return loss


class FocalLoss(nn.Module):
    """Binary focal loss (Lin et al. 2017): cross-entropy scaled by (1 - p_t)^gamma, so easy examples count
    less; `alpha` weighs positives against negatives (None: no weighting). gamma=0, alpha=None is plain BCE."""

    def __init__(self, gamma: float = 2.0, alpha: float | None = 0.25) -> None:
        super().__init__()
        self.gamma, self.alpha = gamma, alpha

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The focal loss of the logits against the targets."""
        target = target.reshape(logits.shape).to(logits.dtype)
        ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        p = torch.sigmoid(logits)
        p_t = p * target + (1 - p) * (1 - target)
        loss = ce * (1 - p_t) ** self.gamma
        if self.alpha is not None:
            loss = loss * (self.alpha * target + (1 - self.alpha) * (1 - target))
        return loss.mean()


class _CrossEntropy(nn.Module):
    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target.reshape(-1).long())


class _MSE(nn.Module):
    def forward(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(out, target.reshape(out.shape).to(out.dtype))


def for_activation(activation: str | None) -> nn.Module:
    """sigmoid -> binary cross-entropy (one or more binary targets), softmax -> cross-entropy, None -> MSE."""
    if activation == "sigmoid":
        return SmoothBCE()
    if activation == "softmax":
        return _CrossEntropy()
    if activation is None:
        return _MSE()
    raise ValueError(f"activation {activation!r} is unknown; use sigmoid, softmax or None")
