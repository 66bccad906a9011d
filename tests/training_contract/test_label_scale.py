"""The label scale is the contract's: targets, the teacher mix and ListNet gains divide by its max."""

from __future__ import annotations

import pytest
import torch

from assay.training import batching, losses


def test_a_binary_label_is_a_full_target_not_one_third():
    assert batching.mixed_targets([0, 1], None, 0.0, label_max=1) == [0.0, 1.0]
    # Before #13 every label was divided by 3: a binary 1 became 0.33.
    assert batching.mixed_targets([0, 1], None, 0.0) == [0.0, pytest.approx(1 / 3)]


def test_the_teacher_holds_its_weight_of_the_target_on_a_binary_scale():
    teacher = [0.2, 0.9, 0.5]
    mixed = batching.mixed_targets([1, 0, 0], teacher, 0.3, label_max=1)
    assert mixed == [pytest.approx(0.7 + 0.06), pytest.approx(0.27), pytest.approx(0.15)]
    # A teacher that agrees with the clicks leaves the targets as they are: the scales match.
    assert batching.mixed_targets([1, 0], [1.0, 0.0], 0.3, label_max=1) == [pytest.approx(1.0), 0.0]
    # On the old fixed 0..3 scale the same agreeing teacher held 0.3 / (0.7 / 3 + 0.3) = 56 % of the mass.
    old = batching.mixed_targets([1, 0], [1.0, 0.0], 0.3)
    assert 0.3 / old[0] == pytest.approx(0.5625)


def test_encode_divides_by_the_declared_max(tiny):
    from assay.training.model import load_model

    tok = load_model(tiny)[1]
    assert batching.encode(tok, ["a", "b"], ["x", "y"], [1, 0], 32, label_max=1).targets == [1.0, 0.0]
    assert batching.encode(tok, ["a", "b"], ["x", "y"], [2, 0], 32, label_max=4).targets == [0.5, 0.0]


def test_listwise_gains_follow_the_scale():
    logits = torch.tensor([2.0, 0.0, -1.0])
    targets = torch.tensor([1.0, 0.0, 0.0])  # a binary 1 among two 0s
    binary = losses.listwise_loss(logits, targets, [(0, 3)], label_max=1)
    # gain 2^1 - 1 = 1 on the relevant pair: the loss is -log softmax of its score
    assert binary.item() == pytest.approx(-torch.log_softmax(logits, 0)[0].item())
    graded = torch.tensor([1.0, 0.5, 0.0])
    g = torch.pow(2.0, graded * 4) - 1
    expected = -(g / g.sum() * torch.log_softmax(logits, 0)).sum()
    assert losses.listwise_loss(logits, graded, [(0, 3)], label_max=4).item() == pytest.approx(expected.item())
