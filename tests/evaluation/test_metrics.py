import math

import pytest
import torch

from missrec.evaluation.metrics import hits_from_target_rank, ranking_metric_sums
from missrec.evaluation.sequential import NextItemEvaluator, target_rank


def test_hand_ranked_targets_at_10_11_51():
    """Spec missrec.md appendix A: upstream RecBole vs MISSRec's vendored @K+1 on the same ranking."""
    ranks = torch.tensor([10, 11, 51])
    hits = hits_from_target_rank(ranks, 51)
    standard = {k: v / 3 for k, v in ranking_metric_sums(hits, torch.ones(3), [10, 50], ["hit", "ndcg"]).items()}
    assert standard["hit@10"] == pytest.approx(1 / 3) and standard["hit@50"] == pytest.approx(2 / 3)
    assert standard["ndcg@10"] == pytest.approx(0.0964, abs=1e-4)
    assert standard["ndcg@50"] == pytest.approx(0.1893, abs=1e-4)
    legacy = {k: v / 3 for k, v in ranking_metric_sums(hits, torch.ones(3), [11, 51], ["hit", "ndcg"]).items()}
    assert legacy["hit@11"] == pytest.approx(2 / 3) and legacy["hit@51"] == pytest.approx(1.0)
    assert legacy["ndcg@11"] == pytest.approx(0.1893, abs=1e-4)
    assert legacy["ndcg@51"] == pytest.approx(0.2478, abs=1e-4)


def test_multi_positive_recall_precision_ndcg_mrr():
    hits = torch.tensor([[True, False, True, False], [False, False, False, True]])
    n_pos = torch.tensor([3, 1])
    sums = ranking_metric_sums(hits, n_pos, [2, 4], ["recall", "precision", "ndcg", "mrr", "hit"])
    assert sums["recall@2"] == pytest.approx(1 / 3)
    assert sums["recall@4"] == pytest.approx(2 / 3 + 1)
    assert sums["precision@4"] == pytest.approx(2 / 4 + 1 / 4)
    assert sums["mrr@4"] == pytest.approx(1 + 1 / 4)
    idcg3 = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert sums["ndcg@4"] == pytest.approx((1 + 1 / math.log2(4)) / idcg3 + (1 / math.log2(5)) / 1)
    assert sums["hit@2"] == 1


def test_hit_normalised_ndcg_is_a_labelled_variant():
    hits = torch.tensor([[False, True, False]])
    standard = ranking_metric_sums(hits, torch.tensor([3]), [3], ["ndcg"])["ndcg@3"]
    legacy = ranking_metric_sums(hits, torch.tensor([3]), [3], ["ndcg"], hit_normalised_ndcg=True)["ndcg@3"]
    assert legacy == pytest.approx(1 / math.log2(3))  # IDCG over the 1 retrieved positive
    assert standard < legacy


def test_target_rank_counts_ties_against_the_target():
    scores = torch.tensor([[0.1, 0.9, 0.5, 0.5, 0.2]])
    assert target_rank(scores, torch.tensor([2])).item() == 3  # 0.9 above, one tie
    assert target_rank(torch.zeros(1, 5), torch.tensor([1])).item() == 5  # constant scores cannot score


class FixedScores(torch.nn.Module):
    def __init__(self, scores):
        super().__init__()
        self.scores = scores

    def full_sort_predict(self, batch):
        return self.scores[batch["row"]]


def test_evaluator_is_independent_of_batch_size_and_applies_the_legacy_offset():
    from recbole.data.interaction import Interaction

    torch.manual_seed(0)
    scores = torch.randn(37, 60)
    targets = torch.randint(1, 60, (37,))
    data = Interaction({"row": torch.arange(37), "item_id": targets})

    def run(batch, legacy=False):
        batches = [data[i : i + batch] for i in range(0, 37, batch)]
        return NextItemEvaluator(batches, "item_id", [10, 50], ["hit", "ndcg"], legacy).run(FixedScores(scores))

    one, all_rows = run(1), run(37)
    assert one == pytest.approx(all_rows, abs=1e-12)
    legacy = run(5, legacy=True)
    assert legacy["hit@10"] >= all_rows["hit@10"]
    masked = scores.clone()
    masked[:, 0] = -math.inf
    ranks = (masked >= masked.gather(1, targets[:, None])).sum(1)
    assert all_rows["hit@10"] == pytest.approx((ranks <= 10).float().mean().item())
    assert legacy["hit@10"] == pytest.approx((ranks <= 11).float().mean().item())


def test_tie_rules_differ_only_on_ties_and_topk_reproduces_the_original_collector():
    from recbole.data.interaction import Interaction

    # 4 rows, 8 items; rows 0-1 have their target tied with items above it in id order, rows 2-3 have no ties
    scores = torch.tensor([
        [0.0, 0.9, 0.9, 0.9, 0.1, 0.2, 0.3, 0.4],
        [0.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.9],
        [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
        [0.0, 0.8, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
    ])
    targets = torch.tensor([3, 6, 7, 1])
    data = [Interaction({"row": torch.arange(4), "item_id": targets})]

    def run(rule: str) -> dict:
        return NextItemEvaluator(data, "item_id", [1, 2, 3], ["hit", "ndcg"], tie_rule=rule).run(FixedScores(scores))

    pessimistic, topk = run("pessimistic"), run("topk")
    # pessimistic: row 0 rank 3, row 1 rank 7, rows 2-3 rank 1
    assert pessimistic["hit@1"] == pytest.approx(0.5) and pessimistic["hit@3"] == pytest.approx(0.75)
    # topk: the target's position in torch.topk's own order (what RecBole 1.0.1's collector counted)
    masked = scores.clone()
    masked[:, 0] = -math.inf
    order = masked.topk(3, dim=1).indices
    for k in (1, 2, 3):
        expected = (order[:, :k] == targets[:, None]).any(1).float().mean().item()
        assert topk[f"hit@{k}"] == pytest.approx(expected)
    assert topk["hit@3"] >= pessimistic["hit@3"]  # ties can only move the target up
    with pytest.raises(ValueError, match="tie rule"):
        NextItemEvaluator(data, "item_id", [1], ["hit"], tie_rule="optimistic")
