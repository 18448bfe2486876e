"""Label smoothing with auxiliary targets and focal loss, against their formulas written out by hand."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from kaggle_runner.runtime import losses


def bce(z: float, t: float) -> float:
    p = 1 / (1 + math.exp(-z))
    return -(t * math.log(p) + (1 - t) * math.log(1 - p))


def test_smooth_bce_main_and_auxiliary_targets() -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5], [-0.5, 1.5, -2.0]])
    target = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    loss = losses.SmoothBCE(smoothing=0.1, aux_weight=0.2)(logits, target)
    smooth = lambda t: t * 0.9 + 0.05  # noqa: E731
    main = (bce(2.0, smooth(1)) + bce(-0.5, smooth(0))) / 2
    aux = (bce(-1.0, smooth(0)) + bce(0.5, smooth(1)) + bce(1.5, smooth(1)) + bce(-2.0, smooth(0))) / 4
    assert float(loss) == pytest.approx(main + 0.2 * aux, rel=1e-6)


def test_smooth_bce_without_smoothing_is_bce_and_main_only_targets_work() -> None:
    logits = torch.tensor([[0.3, 9.0], [-1.2, -9.0]])
    main_only = torch.tensor([1.0, 0.0])  # a validation set with the main label only
    expected = F.binary_cross_entropy_with_logits(logits[:, 0], main_only)
    assert float(losses.SmoothBCE()(logits, main_only)) == pytest.approx(float(expected))
    with pytest.raises(ValueError, match="smoothing"):
        losses.SmoothBCE(smoothing=1.0)


def test_focal_loss_down_weights_easy_examples() -> None:
    logits, target = torch.tensor([3.0, -0.2]), torch.tensor([1.0, 1.0])
    plain = losses.FocalLoss(gamma=0.0, alpha=None)(logits, target)
    assert float(plain) == pytest.approx(float(F.binary_cross_entropy_with_logits(logits, target)))
    focal = losses.FocalLoss(gamma=2.0, alpha=0.25)(logits, target)
    p = [1 / (1 + math.exp(-z)) for z in (3.0, -0.2)]
    expected = sum(0.25 * (1 - pi) ** 2 * bce(z, 1) for pi, z in zip(p, (3.0, -0.2))) / 2
    assert float(focal) == pytest.approx(expected, rel=1e-6)
    # the confident, correct example contributes far less than under plain BCE
    assert (1 - p[0]) ** 2 * bce(3.0, 1) < 0.01 * bce(3.0, 1)


def test_default_losses_by_activation() -> None:
    logits = torch.tensor([[2.0, 0.1, -1.0]])
    assert float(losses.for_activation("softmax")(logits, torch.tensor([0]))) == pytest.approx(
        float(F.cross_entropy(logits, torch.tensor([0])))
    )
    assert float(losses.for_activation(None)(torch.tensor([1.0, 3.0]), torch.tensor([2.0, 3.0]))) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="activation 'relu' is unknown"):
        losses.for_activation("relu")
