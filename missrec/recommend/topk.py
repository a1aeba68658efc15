"""Exact top-k over item chunks, with per-row exclusions, and exact re-ranking of candidate sets.

Memory is ``B x chunk`` scores at a time, never ``B x n_items``: each chunk's scores are masked (excluded items and
everything below ``first_item`` get ``-inf``), reduced to their top k and merged into the running top k.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

DEFAULT_CHUNK_SCORES = 1 << 22  # scores held at once (16 MiB of float32) when no chunk size is given


def exclusion_pairs(excluded: Sequence[np.ndarray | Sequence[int]] | None, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(rows [E], items [E])`` of per-row excluded items, or None when nothing is excluded."""
    if excluded is None:
        return None
    sizes = [len(e) for e in excluded]
    if not any(sizes):
        return None
    rows = np.repeat(np.arange(len(sizes)), sizes)
    items = np.concatenate([np.asarray(e, dtype=np.int64) for e in excluded if len(e)])
    return torch.from_numpy(rows).to(device), torch.from_numpy(items).to(device)


def chunk_size_for(batch: int, chunk_items: int | None = None) -> int:
    """Items per chunk so that ``batch x chunk`` scores stay under :data:`DEFAULT_CHUNK_SCORES`."""
    return chunk_items or max(1024, DEFAULT_CHUNK_SCORES // max(batch, 1))


@torch.no_grad()
def chunked_topk(
    score_range: Callable[[torch.Tensor, int, int], torch.Tensor],
    queries: torch.Tensor,
    n_items: int,
    k: int,
    first_item: int = 0,
    excluded: tuple[torch.Tensor, torch.Tensor] | None = None,
    chunk_items: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact top-k items of each query.

    Args:
        score_range: ``(queries [B, D], start, end) -> scores [B, end - start]``.
        queries: ``[B, D]``.
        n_items: items ``0..n_items-1``; those below ``first_item`` are never returned.
        k: items per row.
        excluded: ``(rows, items)`` pairs to leave out (:func:`exclusion_pairs`).
        chunk_items: items scored at once (default: :func:`chunk_size_for`).

    Returns:
        ``scores [B, k']`` and ``items [B, k']`` (``k' = min(k, n_items - first_item)``), best first; rows with
        fewer than ``k'`` eligible items end in ``-inf`` scores.
    """
    b = queries.shape[0]
    k = min(k, max(n_items - first_item, 0))
    chunk = chunk_size_for(b, chunk_items)
    best_scores = torch.full((b, k), float("-inf"), device=queries.device)
    best_items = torch.zeros((b, k), dtype=torch.long, device=queries.device)
    for start in range(first_item, n_items, chunk):
        end = min(start + chunk, n_items)
        scores = score_range(queries, start, end)  # [B, C]
        if excluded is not None:
            rows, items = excluded
            inside = (items >= start) & (items < end)
            scores[rows[inside], items[inside] - start] = float("-inf")
        top_scores, top_index = scores.topk(min(k, end - start), dim=1)
        merged_scores = torch.cat([best_scores, top_scores], dim=1)
        merged_items = torch.cat([best_items, top_index + start], dim=1)
        best_scores, order = merged_scores.topk(k, dim=1)
        best_items = merged_items.gather(1, order)
    return best_scores, best_items


@torch.no_grad()
def rerank(
    score_candidates: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    queries: torch.Tensor,
    candidates: torch.Tensor,
    k: int,
    first_item: int = 0,
    excluded: tuple[torch.Tensor, torch.Tensor] | None = None,
    n_items: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact scores of ``candidates [B, C]`` (``-1`` = none), masked like :func:`chunked_topk`, top k of them."""
    valid = candidates >= first_item
    safe = torch.where(valid, candidates, torch.full_like(candidates, first_item))
    scores = score_candidates(queries, safe)
    scores = scores.masked_fill(~valid, float("-inf"))
    if excluded is not None:
        rows, items = excluded
        width = int(n_items if n_items is not None else max(int(candidates.max()), int(items.max())) + 1)
        keys = torch.arange(candidates.shape[0], device=candidates.device).unsqueeze(1) * width + safe
        scores = scores.masked_fill(torch.isin(keys, rows * width + items), float("-inf"))
    # a candidate found twice (an index returning duplicates) must not take two places
    duplicate = torch.zeros_like(valid)
    sorted_ids, order = safe.sort(dim=1)
    duplicate.scatter_(1, order[:, 1:], sorted_ids[:, 1:] == sorted_ids[:, :-1])
    scores = scores.masked_fill(duplicate, float("-inf"))
    top_scores, top = scores.topk(min(k, candidates.shape[1]), dim=1)
    return top_scores, safe.gather(1, top)
