"""Next-item evaluation: every row (user) ranks ALL items, one held-out target per row (spec missrec.md §5.1).

Protocol as the paper: the history is not masked, only PAD is excluded. The target's rank is computed exactly from
the scores, ``1 + #{items scoring higher} + #{other items scoring equal}``: **ties count against the target**
(:data:`TIE_RULES` ``pessimistic``), so a model that scores every item the same cannot score, and the metrics do not
depend on the evaluation batch size or on the order of the item table. The original (RecBole 1.0.1's full-sort
collector, spec missrec.md §5.1) ranked by ``torch.topk``, whose order among equal scores is the kernel's: ties
then count for or against the target depending on item ids and hardware; ``tie_rule="topk"`` reproduces it.
Ties are rare with ID embeddings but real in inductive mode, where items with identical features score the same.
``legacy_topk_offset`` reproduces MISSRec's vendored RecBole, whose every "@K" is @K+1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from recbole.data.interaction import Interaction
from tqdm import tqdm

from missrec.evaluation.metrics import hits_from_target_rank, ranking_metric_sums


TIE_RULES = ("pessimistic", "topk")


def target_rank(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1-based rank ``[B]`` of ``target [B]`` among ``scores [B, N]``, ties counted against the target."""
    target_score = scores.gather(1, target.unsqueeze(1))  # [B, 1]
    return (scores >= target_score).sum(1)  # the target itself counts once -> 1-based


def topk_hits(scores: torch.Tensor, target: torch.Tensor, max_k: int) -> torch.Tensor:
    """Hit matrix ``[B, max_k]`` of the original's collector: the target's position in ``torch.topk``'s order."""
    top = scores.topk(min(max_k, scores.shape[1]), dim=1).indices  # [B, max_k]
    hits = top == target.unsqueeze(1)
    if hits.shape[1] < max_k:
        hits = torch.cat([hits, hits.new_zeros(hits.shape[0], max_k - hits.shape[1])], 1)
    return hits


class NextItemEvaluator:
    """Full-ranking evaluator for a leave-one-out split.

    Args:
        batches: re-iterable batches of :class:`Interaction` holding the history and the target item.
        target_field: field of the held-out item (``item_id``).
        topk: cutoffs K.
        metrics: metric names (``hit``, ``recall``, ``ndcg``, ``mrr``, ``precision``).
        legacy_topk_offset: report metric@(K+1) under the name @K, like MISSRec's published tables.
        pad_index: item id excluded from ranking (RecBole's PAD = 0).
        tie_rule: ``pessimistic`` (ties count against the target) or ``topk`` (the original's torch.topk order).
    """

    def __init__(
        self,
        batches: Iterable[Interaction],
        target_field: str,
        topk: Sequence[int],
        metrics: Sequence[str],
        legacy_topk_offset: bool = False,
        pad_index: int = 0,
        tie_rule: str = "pessimistic",
    ) -> None:
        if tie_rule not in TIE_RULES:
            raise ValueError(f"unknown tie rule '{tie_rule}'; choose one of {TIE_RULES}")
        self.batches = batches
        self.target_field = target_field
        self.topk = list(topk)
        self.metrics = [m.lower() for m in metrics]
        self.legacy_topk_offset = legacy_topk_offset
        self.pad_index = pad_index
        self.tie_rule = tie_rule

    @torch.no_grad()
    def run(self, model: torch.nn.Module, show_progress: bool = False, desc: str = "Evaluate") -> dict[str, float]:
        """Evaluate ``model`` (``full_sort_predict``) and return ``{"ndcg@10": value, ...}`` averaged over rows."""
        model.eval()
        cutoffs = [k + 1 if self.legacy_topk_offset else k for k in self.topk]
        sums: dict[str, float] = {}
        rows = 0
        batches = tqdm(self.batches, desc=desc, ncols=100, leave=False) if show_progress else self.batches
        for batch in batches:
            scores = model.full_sort_predict(batch).float()  # [B, N]
            scores[:, self.pad_index] = float("-inf")
            target = batch[self.target_field]
            if self.tie_rule == "topk":
                hits = topk_hits(scores, target, max(cutoffs))
            else:
                hits = hits_from_target_rank(target_rank(scores, target), max(cutoffs))
            part = ranking_metric_sums(hits, torch.ones_like(target), cutoffs, self.metrics)
            for key, value in part.items():
                sums[key] = sums.get(key, 0.0) + value
            rows += target.shape[0]
        if rows == 0:
            raise ValueError("evaluation split is empty")
        result = {}
        for k, cutoff in zip(self.topk, cutoffs, strict=True):
            for name in self.metrics:
                result[f"{name}@{k}"] = sums[f"{name}@{cutoff}"] / rows
        return result
