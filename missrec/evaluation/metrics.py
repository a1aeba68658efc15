"""Top-K ranking metrics from a hit matrix, the one definition every evaluator shares.

``hits[u, r]`` is True when the item ranked at position ``r`` (0-based) for user ``u`` is a held-out positive;
``n_pos[u]`` is the number of held-out positives of ``u``. For user ``u`` and cutoff K:

* ``hit@K``       = 1 if any positive is in the top K
* ``recall@K``    = (#positives in top K) / n_pos  (= hit@K under leave-one-out)
* ``precision@K`` = (#positives in top K) / K
* ``mrr@K``       = 1 / rank of the first positive in the top K (0 if none)
* ``ndcg@K``      = DCG@K / IDCG@K, binary relevance, DCG = sum_r hits[r] / log2(r + 2),
  IDCG@K = sum_{r < min(K, n_pos)} 1 / log2(r + 2)

Values are averaged over users. ``legacy_hit_normalised_ndcg`` (LATTICE/MMSSL) and the MISSRec ``@K+1`` offset
are labelled variants, never the default.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

METRICS = ("hit", "recall", "precision", "mrr", "ndcg")


def _discounts(k: int, device: torch.device) -> torch.Tensor:
    return 1.0 / torch.log2(torch.arange(k, device=device, dtype=torch.float64) + 2.0)  # [k]


def ranking_metric_sums(
    hits: torch.Tensor,
    n_pos: torch.Tensor,
    ks: Sequence[int],
    metrics: Sequence[str] = METRICS,
    hit_normalised_ndcg: bool = False,
) -> dict[str, float]:
    """Per-metric SUMS over the users of this chunk (divide by the user count at the end).

    Args:
        hits: bool ``[U, >= max(ks)]``, positives in ranked order.
        n_pos: ``[U]`` number of held-out positives per user (>= 1).
        ks: cutoffs.
        metrics: names from :data:`METRICS`.
        hit_normalised_ndcg: legacy LATTICE/MMSSL NDCG whose IDCG counts only the positives that were retrieved
            in the top ``max(ks)`` list, truncated at K (``sorted(r, reverse=True)[:K]`` with ``r`` the hit vector
            of the top-max(Ks) items, graph_models.md §2.2); off by default. NDCG@K then depends on ``max(ks)``:
            LATTICE/MICRO used [10, 20], MMSSL [10, 20, 50].

    Returns:
        ``{"ndcg@10": sum over users, ...}`` as Python floats.
    """
    unknown = set(m.lower() for m in metrics) - set(METRICS)
    if unknown:
        raise ValueError(f"unknown metrics {sorted(unknown)}; known: {list(METRICS)}")
    max_k = max(ks)
    if hits.shape[1] < max_k:
        raise ValueError(f"hit matrix has {hits.shape[1]} columns, cutoff {max_k} needs more")
    hits = hits[:, :max_k].to(torch.float64)
    n_pos = n_pos.to(torch.float64)
    disc = _discounts(max_k, hits.device)
    cum_hits = hits.cumsum(1)  # [U, K]
    dcg = (hits * disc).cumsum(1)  # [U, K]
    idcg_full = disc.cumsum(0)  # [K]
    first_rank = torch.where(hits.any(1), hits.argmax(1).to(torch.float64) + 1, torch.inf)  # [U]
    out: dict[str, float] = {}
    for k in ks:
        found = cum_hits[:, k - 1]
        for name in metrics:
            name = name.lower()
            if name == "hit":
                value = (found > 0).to(torch.float64)
            elif name == "recall":
                value = found / n_pos
            elif name == "precision":
                value = found / k
            elif name == "mrr":
                value = torch.where(first_rank <= k, 1.0 / first_rank, 0.0)
            else:
                ideal_count = torch.clamp(cum_hits[:, -1] if hit_normalised_ndcg else n_pos, max=k)
                ideal = torch.where(ideal_count > 0, idcg_full[(ideal_count.clamp(min=1) - 1).long()], 1.0)
                value = dcg[:, k - 1] / ideal
            out[f"{name}@{k}"] = float(value.sum())
    return out


def hits_from_target_rank(rank: torch.Tensor, max_k: int) -> torch.Tensor:
    """Hit matrix ``[U, max_k]`` for one positive per user at 1-based ``rank`` ``[U]``."""
    positions = torch.arange(1, max_k + 1, device=rank.device)
    return rank.unsqueeze(1) == positions  # [U, max_k]
