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


def test_unisrec_released_form_gives_same_target_candidates_logit_zero():
    logits = torch.tensor([[2.0, 1.0, 3.0], [0.5, 1.5, -1.0]])
    same = torch.tensor([[False, False, True], [False, False, False]])  # row 0 shares its target with candidate 2
    zero = in_batch_cross_entropy(logits, 0, same, same_target_logit=0.0)
    by_hand = (-(2.0 - math.log(math.exp(2.0) + math.exp(1.0) + math.exp(0.0)))
               - (1.5 - math.log(math.exp(0.5) + math.exp(1.5) + math.exp(-1.0)))) / 2
    assert zero.item() == pytest.approx(by_hand)
    excluded = in_batch_cross_entropy(logits, 0, same)
    assert excluded.item() < zero.item()  # exp(0) = 1 still sits in row 0's denominator


def test_pretraining_budgets_are_each_authors_own():
    from missrec.config import build_config
    from missrec.models.missrec import MISSRec
    from missrec.models.unisrec import UniSRec

    budgets = {}
    for model in (MISSRec, UniSRec):
        cfg = build_config(model, "FHCKM_mm_full", "pretrain", overrides={"device": "cpu"})
        budgets[model.__name__] = (cfg["train_batch_size"], cfg["pretrain_epochs"], cfg["save_step"])
        assert cfg["legacy_same_target_zero_logit"] is False
    assert budgets == {"MISSRec": (4096, 100, 10), "UniSRec": (8192, 300, 50)}  # spec §1.3 and §8.3
