"""Contrastive objectives: InfoNCE in its two graph-paper forms, and BYOL's cosine (BM3).

``info_nce(z1, z2, tau, intra_view_negatives)`` with cosine similarity ``s`` and anchors ``z1_i``:

* ``intra_view_negatives=False`` (standard; SEA's Solosim loss, τ = 0.2):
  ``l_i = -log exp(s(z1_i, z2_i)/τ) / sum_j exp(s(z1_i, z2_j)/τ)``;
* ``intra_view_negatives=True`` (GRACE; MICRO and MMSSL, τ = 0.5, graph_models.md §4.5 step 5):
  the denominator also holds ``sum_{j != i} exp(s(z1_i, z1_j)/τ)``.

Both are one-directional (z1 anchors) and computed ``chunk_rows`` anchors at a time, in log space, with each chunk
recomputed in the backward pass, so memory is ``[chunk_rows, N]`` and no ``N x N`` matrix is built or kept. Sequential models can use the same function.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


def info_nce(
    z1: torch.Tensor,
    z2: torch.Tensor,
    tau: float,
    intra_view_negatives: bool = False,
    chunk_rows: int = 4096,
) -> torch.Tensor:
    """Mean InfoNCE loss of ``z1 [N, d]`` against ``z2 [N, d]`` (row i of each is a positive pair).

    With more than ``chunk_rows`` anchors under autograd, each chunk's ``[chunk_rows, N]`` logits are recomputed in
    the backward pass instead of being kept (activation checkpointing), so memory stays ``O(chunk_rows * N)``
    rather than ``O(N^2)``; the gradients are the same.
    """
    if z1.shape != z2.shape:
        raise ValueError(f"z1 {tuple(z1.shape)} and z2 {tuple(z2.shape)} must have the same shape")
    n = z1.shape[0]
    a, b = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    recompute = n > chunk_rows and torch.is_grad_enabled() and (a.requires_grad or b.requires_grad)
    losses = []
    for start in range(0, n, chunk_rows):
        anchors = a[start : start + chunk_rows]  # [c, d]
        if recompute:
            losses.append(checkpoint(_chunk_losses, anchors, a, b, start, tau, intra_view_negatives, use_reentrant=False))
        else:
            losses.append(_chunk_losses(anchors, a, b, start, tau, intra_view_negatives))
    return torch.cat(losses).mean()


def _chunk_losses(
    anchors: torch.Tensor, a: torch.Tensor, b: torch.Tensor, start: int, tau: float, intra_view_negatives: bool
) -> torch.Tensor:
    """Per-anchor losses ``[c]`` of the anchors ``a[start : start + c]`` against all of ``b`` (and ``a``)."""
    rows = torch.arange(anchors.shape[0], device=anchors.device)
    between = anchors @ b.T / tau  # [c, N]
    positive = between[rows, rows + start]
    logits = between
    if intra_view_negatives:
        refl = (anchors @ a.T / tau).clone()  # [c, N]
        refl[rows, rows + start] = float("-inf")  # s(z1_i, z1_i) is removed from the denominator
        logits = torch.cat([between, refl], 1)
    return torch.logsumexp(logits, 1) - positive


def byol_cosine(online: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``1 - mean_i cos(online_i, sg(target_i))`` (BM3, graph_models.md §4.7); the target gets no gradient."""
    return 1.0 - F.cosine_similarity(online, target.detach(), dim=-1).mean()
