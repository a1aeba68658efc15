"""Contrastive objectives: InfoNCE in its two graph-paper forms, and BYOL's cosine (BM3).

``info_nce(z1, z2, tau, intra_view_negatives)`` with cosine similarity ``s`` and anchors ``z1_i``:

* ``intra_view_negatives=False`` (standard; SEA's Solosim loss, τ = 0.2):
  ``l_i = -log exp(s(z1_i, z2_i)/τ) / sum_j exp(s(z1_i, z2_j)/τ)``;
* ``intra_view_negatives=True`` (GRACE; MICRO and MMSSL, τ = 0.5, graph_models.md §4.5 step 5):
  the denominator also holds ``sum_{j != i} exp(s(z1_i, z1_j)/τ)``.

Both are one-directional (z1 anchors) and computed ``chunk_rows`` anchors at a time. The denominator is one
``[chunk_rows, K]`` block of exponentials (``K = N``, or ``2N`` with the intra-view negatives) with a hand-written
backward (:class:`_LogSumExpOfSimilarities`): the gradient of a log-sum-exp is its softmax, which is that same block
scaled row by row, so no ``[chunk_rows, K]`` logits, masks or softmax copies are made beside it. One chunk keeps its
block for the backward pass; several recompute theirs there, so memory stays ``[chunk_rows, K]`` and no ``N x N``
matrix is kept. Sequential models can use the same function.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable


def exp_range(dtype: torch.dtype) -> float:
    """Widest span of logits whose exponentials, shifted to at most 1, stay normal numbers: 87 for float32."""
    return -math.log(torch.finfo(dtype).tiny)


def info_nce(
    z1: torch.Tensor,
    z2: torch.Tensor,
    tau: float,
    intra_view_negatives: bool = False,
    chunk_rows: int = 4096,
) -> torch.Tensor:
    """Mean InfoNCE loss of ``z1 [N, d]`` against ``z2 [N, d]`` (row i of each is a positive pair).

    With more than ``chunk_rows`` anchors, each chunk's ``[chunk_rows, K]`` exponentials are recomputed in the
    backward pass instead of being kept, so memory stays ``O(chunk_rows * N)`` rather than ``O(N^2)``; the
    gradients are the same.
    """
    if z1.shape != z2.shape:
        raise ValueError(f"z1 {tuple(z1.shape)} and z2 {tuple(z2.shape)} must have the same shape")
    n = z1.shape[0]
    a, b = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    scaled = a / tau  # [N, d]: 1/τ folded into the anchors, not into the [c, K] block
    keys = torch.cat([b, a]) if intra_view_negatives else b  # [K, d]
    keep = n <= chunk_rows
    lse = []
    for start in range(0, n, chunk_rows):
        anchors = scaled[start : start + chunk_rows]  # [c, d]
        self_column = n + start if intra_view_negatives else None  # s(z1_i, z1_i) leaves the denominator
        lse.append(_LogSumExpOfSimilarities.apply(anchors, keys, 1.0 / tau, self_column, keep))
    positive = (scaled * b).sum(1)  # s(z1_i, z2_i) / τ
    return (torch.cat(lse) - positive).mean()


def _exponentials(
    anchors: torch.Tensor, keys: torch.Tensor, shift: torch.Tensor, self_column: int | None
) -> torch.Tensor:
    """``[c, K]`` block ``exp(anchors @ keys^T - shift)``, zero at ``(r, self_column + r)``; ``shift [c, 1]``."""
    block = torch.addmm(shift.neg(), anchors, keys.T).exp_()
    _drop_self_column(block, self_column, 0.0)
    return block


def _drop_self_column(block: torch.Tensor, self_column: int | None, value: float) -> None:
    """``block[r, self_column + r] = value`` in place for every row r; nothing when ``self_column`` is None."""
    if self_column is not None:
        rows = torch.arange(block.shape[0], device=block.device)
        block[rows, self_column + rows] = value


class _LogSumExpOfSimilarities(torch.autograd.Function):
    """``lse_r = log sum_k exp(anchors_r . keys_k)`` over the keys but ``self_column + r``: ``[c]``.

    ``bound`` is an upper bound on every logit (``1/τ`` for unit anchors over τ and unit keys): the block is shifted
    by it and needs no pass for a row maximum, unless ``[-bound, bound]`` is too wide for the dtype
    (:func:`exp_range`), when each row's maximum is taken. The backward pass is ``P = block / sum`` times the
    incoming gradient: ``d anchors = P @ keys``, ``d keys = P^T @ anchors``.
    """

    @staticmethod
    def forward(ctx, anchors: torch.Tensor, keys: torch.Tensor, bound: float, self_column: int | None,
                keep: bool) -> torch.Tensor:
        with torch.autocast(anchors.device.type, enabled=False):  # sums of exponentials stay in the input dtype
            if 2.0 * bound < exp_range(anchors.dtype):
                shift = anchors.new_full((anchors.shape[0], 1), bound)
                block = _exponentials(anchors, keys, shift, self_column)
            else:  # logits too spread for one shift: each row's own maximum, the self column (-inf -> 0) excluded
                block = anchors @ keys.T
                _drop_self_column(block, self_column, float("-inf"))
                shift = block.amax(1, keepdim=True)
                block.sub_(shift).exp_()
            total = block.sum(1)  # [c]
        ctx.self_column = self_column
        ctx.save_for_backward(anchors, keys, shift, total, *([block] if keep else []))
        return total.log() + shift.squeeze(1)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        anchors, keys, shift, total, *kept = ctx.saved_tensors
        weights = (grad / total).unsqueeze(1)  # [c, 1]
        if kept:
            softmax = kept[0] * weights  # the kept block stays intact for a second backward
        else:
            softmax = _exponentials(anchors, keys, shift, ctx.self_column).mul_(weights)
        return softmax @ keys, softmax.T @ anchors, None, None, None


def byol_cosine(online: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``1 - mean_i cos(online_i, sg(target_i))`` (BM3, graph_models.md §4.7); the target gets no gradient."""
    return 1.0 - F.cosine_similarity(online, target.detach(), dim=-1).mean()
