"""Next-item evaluation: every row (user) ranks ALL items, one held-out target per row (spec missrec.md §5.1).

Protocol as the paper: the history is not masked, only PAD is excluded. The target's rank is computed exactly from
the scores, ``1 + #{items scoring higher} + #{other items scoring equal}`` (ties count against the target, so a
model that scores every item the same cannot score), which makes metrics independent of the evaluation batch size
and needs no top-k. ``legacy_topk_offset`` reproduces MISSRec's vendored RecBole, whose every "@K" is @K+1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from recbole.data.interaction import Interaction
from tqdm import tqdm

from missrec.evaluation.metrics import hits_from_target_rank, ranking_metric_sums


def target_rank(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1-based rank ``[B]`` of ``target [B]`` among ``scores [B, N]``, ties counted against the target."""
    target_score = scores.gather(1, target.unsqueeze(1))  # [B, 1]
    return (scores >= target_score).sum(1)  # the target itself counts once -> 1-based


class NextItemEvaluator:
    """Full-ranking evaluator for a leave-one-out split.

    Args:
        batches: re-iterable batches of :class:`Interaction` holding the history and the target item.
        target_field: field of the held-out item (``item_id``).
        topk: cutoffs K.
        metrics: metric names (``hit``, ``recall``, ``ndcg``, ``mrr``, ``precision``).
        legacy_topk_offset: report metric@(K+1) under the name @K, like MISSRec's published tables.
        pad_index: item id excluded from ranking (RecBole's PAD = 0).
    """

    def __init__(
        self,
        batches: Iterable[Interaction],
        target_field: str,
        topk: Sequence[int],
        metrics: Sequence[str],
        legacy_topk_offset: bool = False,
        pad_index: int = 0,
    ) -> None:
        self.batches = batches
        self.target_field = target_field
        self.topk = list(topk)
        self.metrics = [m.lower() for m in metrics]
        self.legacy_topk_offset = legacy_topk_offset
        self.pad_index = pad_index

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
            rank = target_rank(scores, batch[self.target_field])
            hits = hits_from_target_rank(rank, max(cutoffs))
            part = ranking_metric_sums(hits, torch.ones_like(rank), cutoffs, self.metrics)
            for key, value in part.items():
                sums[key] = sums.get(key, 0.0) + value
            rows += rank.shape[0]
        if rows == 0:
            raise ValueError("evaluation split is empty")
        result = {}
        for k, cutoff in zip(self.topk, cutoffs):
            for name in self.metrics:
                result[f"{name}@{k}"] = sums[f"{name}@{cutoff}"] / rows
        return result
