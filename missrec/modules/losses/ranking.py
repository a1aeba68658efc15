"""Pairwise ranking loss (BPR) and the embedding regularisers of the graph codebases (graph_models.md §4, §5).

The regularisers differ between codebases and change the numbers, so each variant is named:

| style          | value                                          | used by                            |
|----------------|------------------------------------------------|------------------------------------|
| ``frobenius``  | ``sum_t ||T||_F / n`` (not squared; n = rows of the last tensor) | MMRec ``EmbLoss``: BPR, LightGCN, VBPR, BM3 |
| ``half_squared``| ``1/2 sum_t ||T||_F^2 / n`` (n = rows of the first tensor, or the configured batch size) | LATTICE, MICRO, MMSSL |
| ``mean_squared``| ``sum_t mean(T^2)``                           | GRCN                               |
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

REG_STYLES = ("frobenius", "half_squared", "mean_squared")


def bpr_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor, log_base: str = "e", eps: float | None = None) -> torch.Tensor:
    """``-mean log sigma(s+ - s-)``.

    Args:
        pos_scores, neg_scores: ``[B]`` scores of the positive and the sampled negative item.
        log_base: ``e`` (every paper) or ``2`` (SEA's ``log2``, graph_models.md §4.10).
        eps: ``None`` uses the stable ``logsigmoid`` (LATTICE, FREEDOM, MMSSL); MMRec's ``BPRLoss`` is
            ``log(eps + sigma)`` with ``eps = 1e-10``.
    """
    if log_base not in ("e", "2"):
        raise ValueError(f"log_base must be 'e' or '2', got {log_base!r}")
    diff = pos_scores - neg_scores
    log_lik = F.logsigmoid(diff) if eps is None else torch.log(eps + torch.sigmoid(diff))
    if log_base == "2":
        log_lik = log_lik / math.log(2.0)
    return -log_lik.mean()


def l2_regulariser(*embeddings: torch.Tensor, style: str = "frobenius", denominator: int | None = None) -> torch.Tensor:
    """Embedding regulariser in one of :data:`REG_STYLES` (see the module table).

    Args:
        embeddings: the batch (or full) embedding matrices, e.g. ``(u [B, d], i+ [B, d], i- [B, d])``.
        style: variant name.
        denominator: overrides ``n`` of ``frobenius`` / ``half_squared`` (LATTICE divides by the configured batch
            size, BM3 by the item count).
    """
    if style not in REG_STYLES:
        raise ValueError(f"unknown regulariser style '{style}'; known: {list(REG_STYLES)}")
    if not embeddings:
        raise ValueError("l2_regulariser needs at least one tensor")
    if style == "frobenius":
        n = denominator or embeddings[-1].shape[0]
        return sum(torch.linalg.vector_norm(t) for t in embeddings) / n
    if style == "half_squared":
        n = denominator or embeddings[0].shape[0]
        return 0.5 * sum(t.pow(2).sum() for t in embeddings) / n
    return sum(t.pow(2).mean() for t in embeddings)
