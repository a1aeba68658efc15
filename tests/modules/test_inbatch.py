import math

import pytest
import torch

from missrec.modules.inbatch import gather_with_grad, in_batch_cross_entropy, local_offset


def test_in_batch_cross_entropy_by_hand():
    logits = torch.tensor([[2.0, 0.0, 1.0], [0.5, 1.5, 1.5]])
    expected = [-(2.0 - math.log(math.exp(2) + 1 + math.e)), -(1.5 - math.log(math.exp(0.5) + 2 * math.exp(1.5)))]
    assert in_batch_cross_entropy(logits, 0).item() == pytest.approx(sum(expected) / 2, rel=1e-6)


def test_same_target_candidates_are_excluded_but_the_positive_kept():
    logits = torch.tensor([[1.0, 3.0, 0.0], [1.0, 3.0, 0.0]])
    targets = torch.tensor([7, 7, 9])
    same = targets[:2, None] == targets[None, :]
    loss = in_batch_cross_entropy(logits, 0, same)
    row0 = -(1.0 - math.log(math.e + 1.0))  # candidate 1 (same target) removed
    row1 = -(3.0 - math.log(math.exp(3) + 1.0))  # candidate 0 removed
    assert loss.item() == pytest.approx((row0 + row1) / 2, rel=1e-6)


def test_single_process_gather_is_the_identity():
    t = torch.randn(3, 2, requires_grad=True)
    assert gather_with_grad(t) is t and local_offset(3, True) == 0
