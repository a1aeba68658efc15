"""Index-backed top-k: candidates from faiss, scores from the model.

One :class:`~missrec.recommend.ann.AnnIndex` per index block of the head (one for the linear models; one per modality,
plus the ID table, for MISSRec). Each block proposes its ``n`` best items by inner product; their union is re-ranked
with the model's exact score. With exact (``flat``) indexes the result is certified: an item no block proposed has,
in every block, an inner product below that block's n-th, so its score is below ``bound_scale * max_b t_b``; when
the k-th re-ranked score is not above that bound, ``n`` grows 4x and the search repeats. With approximate indexes
(``ivf``, ``hnsw``) one round is run: the list can miss items the index does not find, never mis-score one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from missrec.recommend.ann import AnnIndex
from missrec.recommend.topk import rerank


class CandidateIndex:
    """faiss indexes over a scoring head's blocks.

    Args:
        head: a scoring head (``index_blocks()``, ``bound_scale``, ``score_candidates``, ``first_item``).
        kind: ``flat``, ``ivf`` or ``hnsw``.
        candidates: items each block proposes per query (plus the largest number of excluded items).
        params: :class:`~missrec.recommend.ann.AnnIndex` settings (``nlist``, ``nprobe``, ``hnsw_m`` ...).
    """

    def __init__(self, head: Any, kind: str = "flat", candidates: int = 100, **params: Any) -> None:
        self.kind = kind
        self.candidates = int(candidates)
        self.indexes = [
            AnnIndex(block[head.first_item :].detach().cpu().numpy(), kind, first_item=head.first_item, **params)
            for block in head.index_blocks()
        ]

    @property
    def ntotal(self) -> int:
        return self.indexes[0].ntotal

    def add(self, head: Any, start: int) -> None:
        """Index the head's items from internal id ``start`` on (just added)."""
        for index, block in zip(self.indexes, head.index_blocks(), strict=True):
            index.add(block[start:].detach().cpu().numpy())

    @torch.no_grad()
    def topk(
        self,
        head: Any,
        queries: torch.Tensor,
        k: int,
        excluded: tuple[torch.Tensor, torch.Tensor] | None,
        most_excluded: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(scores [B, k], items [B, k])`` of ``queries [B, D]``, like :func:`~missrec.recommend.topk.chunked_topk`."""
        array = queries.detach().float().cpu().numpy()
        n = max(self.candidates, k) + most_excluded
        while True:
            found = [index.search(array, n) for index in self.indexes]
            candidates = torch.from_numpy(np.concatenate([ids for _, ids in found], axis=1)).to(queries.device)
            scores, items = rerank(head.score_candidates, queries, candidates, k, head.first_item, excluded, head.n_items)
            if self.kind != "flat" or n >= self.ntotal:
                return scores, items
            floor = np.max(np.stack([s[:, -1] for s, _ in found]), axis=0)  # [B]: best n-th inner product
            bound = torch.from_numpy(floor).to(scores) * head.bound_scale
            if bool((scores[:, -1] >= bound).all()):
                return scores, items
            n *= 4
