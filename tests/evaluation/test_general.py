"""General full-ranking evaluation against hand-computed rankings; chunked scoring, masking and the legacy NDCG.

Fixture: 3 users, 6 items. train u0 {0}, u1 {1, 2}; valid u0 {5}, u1 {0}; test u0 {1, 3}, u1 {3}, u2 {4}
(u2 has no training item: a cold-start user).
"""

import math

import numpy as np
import pytest
import torch
from torch import nn

from missrec.data.general import GeneralDataset
from missrec.evaluation.general import TopKEvaluator, gather_rows
from missrec.evaluation.metrics import ranking_metric_sums

SCORES = torch.tensor(
    [
        [9.0, 8.0, 1.0, 7.0, 2.0, 6.0],  # u0 after masking item 0: 1, 3, 5, 4, 2
        [5.0, 9.0, 9.0, 1.0, 3.0, 4.0],  # u1 after masking 1, 2: 0, 5, 4, 3
        [0.0, 0.0, 0.0, 0.0, 1.0, 0.0],
    ]
)
L3 = 1 / math.log2(3)


class FixedScores(nn.Module):
    """Scores from a table; asserts that it is never asked for more than ``chunk`` users at once."""

    def __init__(self, scores, chunk):
        super().__init__()
        self.scores, self.chunk, self.calls = scores, chunk, []

    def full_sort_predict(self, interaction):
        users = interaction["user_id"]
        assert len(users) <= self.chunk, f"asked for {len(users)} users, chunk is {self.chunk}"
        self.calls.append(len(users))
        return self.scores[users].clone()


@pytest.fixture
def data():
    pairs = lambda rows: np.array(rows, dtype=np.int64)  # noqa: E731
    return GeneralDataset(
        "hand",
        3,
        6,
        {"train": pairs([[0, 0], [1, 1], [1, 2]]), "valid": pairs([[0, 5], [1, 0]]), "test": pairs([[0, 1], [0, 3], [1, 3], [2, 4]])},
    )


def evaluate(data, split, batch_size=10, scores=SCORES, **kwargs):
    evaluator = TopKEvaluator(data, split, [1, 3], ["recall", "precision", "ndcg"], "cpu", batch_size=batch_size, **kwargs)
    model = FixedScores(scores, batch_size)
    return evaluator.run(model), model


def test_test_metrics_by_hand(data):
    result, _ = evaluate(data, "test")
    # u0 top-3 [1, 3, 5] hits [1, 1, 0] of 2; u1 top-3 [0, 5, 4] no hit; u2 is skipped (cold start)
    assert result["recall@1"] == pytest.approx((1 / 2 + 0) / 2)
    assert result["recall@3"] == pytest.approx((1 + 0) / 2)
    assert result["precision@1"] == pytest.approx(1 / 2)
    assert result["precision@3"] == pytest.approx((2 / 3) / 2)
    assert result["ndcg@1"] == pytest.approx(1 / 2)
    assert result["ndcg@3"] == pytest.approx(((1 + L3) / (1 + L3)) / 2)


def test_valid_metrics_by_hand(data):
    result, _ = evaluate(data, "valid")
    # u0: item 5 at rank 3; u1: item 0 at rank 1
    assert result["recall@1"] == pytest.approx(1 / 2)
    assert result["recall@3"] == pytest.approx(1.0)
    assert result["ndcg@3"] == pytest.approx((0.5 + 1) / 2)


def test_masking_validation_items_at_test_is_a_switch(data):
    result, _ = evaluate(data, "test", mask_valid=True)
    # u1 loses item 0: top-3 [5, 4, 3], the test item at rank 3
    assert result["recall@3"] == pytest.approx((1 + 1) / 2)
    assert result["ndcg@3"] == pytest.approx((1 + 0.5) / 2)
    assert result["precision@3"] == pytest.approx((2 / 3 + 1 / 3) / 2)


def test_cold_start_users_are_optional(data):
    result, _ = evaluate(data, "test", filter_cold_start=False)
    assert result["recall@1"] == pytest.approx((1 / 2 + 0 + 1) / 3)


def test_scores_are_requested_in_user_chunks_only():
    rng = np.random.default_rng(0)
    pairs = np.array([(u, i) for u in range(50) for i in rng.choice(30, 6, replace=False)], dtype=np.int64)
    data = GeneralDataset("chunks", 50, 30, {"train": pairs[::2], "valid": pairs[1::4], "test": pairs[3::4]})
    scores = torch.randn(50, 30, generator=torch.Generator().manual_seed(1))
    reference, whole = evaluate(data, "test", batch_size=100, scores=scores)
    chunked, model = evaluate(data, "test", batch_size=8, scores=scores)
    assert whole.calls == [50] and max(model.calls) <= 8 and sum(model.calls) == 50 and len(model.calls) == 7
    for key, value in reference.items():
        assert chunked[key] == pytest.approx(value)


def test_training_items_never_reach_the_top(data):
    evaluator = TopKEvaluator(data, "test", [3], ["recall"], "cpu")
    top = evaluator.top_items(FixedScores(SCORES, 10), torch.tensor([0, 1]))
    assert 0 not in top[0].tolist() and not {1, 2} & set(top[1].tolist())


def test_legacy_hit_normalised_ndcg_uses_the_hits_of_the_top_max_k():
    # one user, 2 test items, hits at ranks 2 and 3 of the top-3
    hits = torch.tensor([[False, True, True]])
    n_pos = torch.tensor([2])
    standard = ranking_metric_sums(hits, n_pos, [2, 3], ["ndcg"])
    legacy = ranking_metric_sums(hits, n_pos, [2, 3], ["ndcg"], hit_normalised_ndcg=True)
    assert standard["ndcg@2"] == pytest.approx(L3 / (1 + L3))
    # LATTICE: IDCG@2 from sorted(r of the top-3)[:2] = [1, 1]; a top-2 count would give L3 / 1
    assert legacy["ndcg@2"] == pytest.approx(L3 / (1 + L3))
    assert legacy["ndcg@3"] == pytest.approx((L3 + 0.5) / (1 + L3))
    # spec example (§2.2): 2 test items, one hit at rank 5 -> 0.387 legacy vs 0.237 standard
    hits = torch.tensor([[False, False, False, False, True]])
    assert ranking_metric_sums(hits, n_pos, [5], ["ndcg"], hit_normalised_ndcg=True)["ndcg@5"] == pytest.approx(0.387, abs=1e-3)
    assert ranking_metric_sums(hits, n_pos, [5], ["ndcg"])["ndcg@5"] == pytest.approx(0.237, abs=1e-3)


def test_legacy_switch_reaches_the_evaluator(data):
    legacy, _ = evaluate(data, "test", hit_normalised_ndcg=True)
    assert legacy["ndcg@3"] == pytest.approx(0.5)  # u0: both hits retrieved -> 1; u1: no hit -> 0


def test_gather_rows():
    indptr, indices = torch.tensor([0, 2, 2, 5]), torch.tensor([7, 8, 1, 2, 3])
    pos, cols = gather_rows(indptr, indices, torch.tensor([2, 0, 1]))
    assert pos.tolist() == [0, 0, 0, 1, 1] and cols.tolist() == [1, 2, 3, 7, 8]


def test_wrong_score_shape_is_an_error(data):
    evaluator = TopKEvaluator(data, "test", [3], ["recall"], "cpu")
    with pytest.raises(ValueError, match="expected \\[2, 6\\]"):
        evaluator.run(FixedScores(SCORES[:, :5], 10))
