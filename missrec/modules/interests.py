"""Interest discovery and per-user interest tokens (spec missrec.md §3.3-§3.5).

Interest discovery clusters the adapted embeddings of every item in every modality together (one global k-means,
K = ceil(ratio * #points)); a user's interest tokens are the deduplicated cluster ids of the items in their history.
Cluster id 0 is reserved for padding; centroids are constants (no gradient).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from missrec.modules.kmeans import interest_count, kmeans


@dataclass
class Interests:
    """Result of one interest discovery.

    Attributes:
        lookup: ``[M, n_items]`` cluster id (1..K) of every item in every modality; column 0 (PAD) is 0.
        embeddings: ``[K + 1, D]`` centroids; row 0 (padding) is zeros.
        backend: k-means implementation used.
        inertia: sum of squared distances of the points to their centroids (lower is better).
    """

    lookup: torch.Tensor
    embeddings: torch.Tensor
    backend: str
    inertia: float = float("nan")

    @property
    def num_clusters(self) -> int:
        return self.embeddings.shape[0] - 1

    def clusters_used(self) -> int:
        """Distinct clusters that received at least one point."""
        return int(torch.unique(self.lookup[:, 1:]).numel())


@torch.no_grad()
def discover_interests(
    modal_embeddings: torch.Tensor,
    ratio: float,
    n_iter: int = 20,
    seed: int = 0,
    backend: str = "auto",
    restarts: int = 1,
    init: str = "auto",
) -> Interests:
    """Global k-means over all items' adapted modality embeddings.

    Args:
        modal_embeddings: ``[M, n_items, D]`` adaptor outputs; row 0 of each modality is PAD and is excluded.
        ratio: interest ratio (K = ceil(ratio * M * (n_items - 1))).
        n_iter: Lloyd iterations.
        seed: k-means seed.
        backend: ``auto``, ``faiss`` or ``torch``.
        restarts: k-means runs from different seeds; the lowest inertia is kept.
        init: seeding (:data:`missrec.modules.kmeans.INITS`).
    """
    m, n_items, d = modal_embeddings.shape
    points = modal_embeddings[:, 1:].reshape(-1, d)  # [M * (n_items - 1), D]: text points, then image points ...
    k = interest_count(points.shape[0], ratio)
    result = kmeans(points, k, n_iter=n_iter, seed=seed, backend=backend, n_init=restarts, init=init)
    lookup = torch.zeros(m, n_items, dtype=torch.long, device=modal_embeddings.device)
    lookup[:, 1:] = result.labels.view(m, n_items - 1) + 1  # +1: id 0 is padding
    embeddings = torch.zeros(result.centroids.shape[0] + 1, d, device=modal_embeddings.device)
    embeddings[1:] = result.centroids
    return Interests(lookup, embeddings, result.backend, result.inertia)


def interest_tokens(
    item_seq: torch.Tensor, lookup: torch.Tensor, width_of: Callable[[int], int] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Deduplicated interest ids of each history, without a Python loop over rows.

    Args:
        item_seq: ``[B, L]`` item ids, 0 = padding.
        lookup: ``[M, n_items]`` cluster id per item and modality (0 for PAD).
        width_of: maps this batch's width Q to the width to use (at least Q), e.g. the maximum over the processes
            of a data-parallel batch, so that Q, and with it the regulariser R, is that of the global batch.

    Returns:
        ``ids [B, Q]``: each row's distinct cluster ids in ascending order, right-padded with 0, and
        ``n_valid [B]``: how many of them are real. ``Q`` is the batch maximum of (distinct ids + 1 if the row has
        padding), the width of the original's ``torch.unique`` per row (spec §3.4).
    """
    b = item_seq.shape[0]
    labels = lookup[:, item_seq].permute(1, 0, 2).reshape(b, -1)  # [B, M*L]
    sentinel = lookup.max() + 1
    ids, _ = torch.where(labels == 0, sentinel, labels).sort(dim=1)
    repeated = torch.zeros_like(ids, dtype=torch.bool)
    repeated[:, 1:] = ids[:, 1:] == ids[:, :-1]
    ids, _ = torch.where(repeated, sentinel, ids).sort(dim=1)
    n_valid = (ids < sentinel).sum(1)  # [B]
    width = int((n_valid + (labels == 0).any(1)).max().clamp(min=1))
    if width_of is not None:
        width = width_of(width)
    ids = ids[:, :width] if width <= ids.shape[1] else F.pad(ids, (0, width - ids.shape[1]), value=int(sentinel))
    return torch.where(ids == sentinel, 0, ids), n_valid


def interest_regulariser(memory: torch.Tensor, n_valid: torch.Tensor) -> torch.Tensor:
    """MISSRec's "interest orthogonal regularisation" R, as the original computes it (spec §3.5).

    ``p_b = (n_valid_b / Q) * sum_q memory[b, q]`` over all Q positions (padded ones included), and
    ``R = sum_b ||p_b||^2 / D`` (summed over the batch). Despite its name it is a squared-norm penalty on the
    pooled encoder memory. Being a sum over rows, under data parallelism each process's share is scaled by the
    number of processes W (DDP averages gradients), see :meth:`missrec.models.missrec.MISSRec.pretrain_loss`.

    Args:
        memory: ``[B, Q, D]`` encoder output over the interest tokens.
        n_valid: ``[B]`` real (non-padding) interest tokens per row.
    """
    q, d = memory.shape[1], memory.shape[2]
    pooled = (n_valid.to(memory.dtype) / q).unsqueeze(1) * memory.sum(1)  # [B, D]
    return pooled.pow(2).sum() / d
