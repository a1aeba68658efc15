"""kNN item-item graphs from modality features, built in row chunks (graph_models.md §3.3).

For every item the ``k`` most cosine-similar items (itself included) are kept. The similarity is computed
``chunk_rows`` rows at a time (``[chunk_rows, I]`` at most), so no ``I x I`` matrix ever exists; the result is a
sparse COO ``[I, I]`` with ``I * k`` entries.

| variant         | ``weighted`` | ``norm`` | values                                     |
|-----------------|--------------|----------|--------------------------------------------|
| LATTICE / MICRO | True         | ``sym``  | ``d_r^-1/2 cos(i, j) d_c^-1/2``, D = rowsum |
| FREEDOM / SEA   | False        | ``sym``  | ``1/k`` on every kept entry                |
| learned (raw)   | True         | ``none`` | ``cos(i, j)``, normalised after mixing     |

Gradients flow from the values into ``features`` (LATTICE/MICRO learn the graph from projected features).

Items whose feature row is all zero (no image, no knowledge-graph link) have no defined similarity; the released
code would produce NaN rows there. Here such an item is nobody's neighbour and its own only neighbour (a
self-loop of value 1), so graph convolution leaves its embedding unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from missrec.modules.graph.sparse import sparse_coo, sym_normalise

KNN_NORMS = ("sym", "none")
CHUNK_ELEMENTS = 1 << 24  # similarity entries per chunk when chunk_rows is not given (64 MB in float32)


def default_chunk_rows(n_items: int) -> int:
    """Rows per similarity chunk so that a chunk holds at most :data:`CHUNK_ELEMENTS` entries."""
    return max(1, min(n_items, CHUNK_ELEMENTS // max(n_items, 1)))


def _chunk_similarity(rows: torch.Tensor, all_rows: torch.Tensor) -> torch.Tensor:
    """Cosine similarities ``[c, I]`` of L2-normalised rows (one chunk)."""
    return rows @ all_rows.T


def cosine_topk(
    features: torch.Tensor, k: int, chunk_rows: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top-``k`` cosine neighbours of every row, chunk by chunk.

    Args:
        features: ``[I, d]``.
        k: neighbours per item (capped at I).
        chunk_rows: rows per chunk (default :func:`default_chunk_rows`).

    Returns:
        ``(values [I, k], indices [I, k], valid [I, k])``; ``valid`` is False for padding entries (rows of all-zero
        features, or fewer than ``k`` items with features).
    """
    n = features.shape[0]
    k = min(k, n)
    chunk_rows = chunk_rows or default_chunk_rows(n)
    x = F.normalize(features.float(), dim=1)  # zero rows stay zero
    empty = features.detach().abs().sum(1) == 0  # [I]
    values, indices = [], []
    for start in range(0, n, chunk_rows):
        sim = _chunk_similarity(x[start : start + chunk_rows], x)  # [c, I]
        sim = sim.masked_fill(empty.unsqueeze(0), float("-inf"))
        v, i = sim.topk(k, dim=1)
        values.append(v)
        indices.append(i)
    values, indices = torch.cat(values), torch.cat(indices)
    valid = torch.isfinite(values)
    if empty.any():
        self_index = torch.arange(n, device=features.device)
        first = torch.zeros_like(valid)
        first[:, 0] = True
        rows = empty.unsqueeze(1)
        indices = torch.where(rows & first, self_index.unsqueeze(1), indices)
        values = torch.where(rows & first, torch.ones_like(values), values)
        valid = torch.where(rows, first, valid)
    values = torch.where(valid, values, torch.zeros_like(values))
    return values, indices, valid


def knn_item_graph(
    features: torch.Tensor,
    k: int = 10,
    weighted: bool = True,
    norm: str = "sym",
    chunk_rows: int | None = None,
) -> torch.Tensor:
    """kNN item graph of one modality (see the module table for the variants).

    Args:
        features: ``[I, d]`` raw or projected item features.
        k: neighbours per item, the item itself included (``knn_k`` / ``topk`` = 10 in every paper).
        weighted: keep the cosine values (LATTICE/MICRO) or 1 (FREEDOM/SEA).
        norm: ``sym`` (``D^-1/2 S D^-1/2`` with the row degree) or ``none``.
        chunk_rows: rows per similarity chunk.

    Returns:
        Coalesced sparse COO ``[I, I]``.
    """
    if norm not in KNN_NORMS:
        raise ValueError(f"unknown kNN graph norm '{norm}'; known: {list(KNN_NORMS)}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    n = features.shape[0]
    values, indices, valid = cosine_topk(features, k, chunk_rows)
    rows = torch.arange(n, device=features.device).unsqueeze(1).expand_as(indices)
    kept = valid.reshape(-1)
    weights = values.reshape(-1) if weighted else torch.ones_like(values).reshape(-1)
    graph = sparse_coo(torch.stack([rows.reshape(-1)[kept], indices.reshape(-1)[kept]]), weights[kept], (n, n))
    return sym_normalise(graph) if norm == "sym" else graph
