"""Learned item graphs: LATTICE/MICRO's kNN graph of projected features and its rebuild schedule.

graph_models.md §4.4: the learned graph is rebuilt (with gradient) at the first batch of every epoch and at every
evaluation; the other batches reuse a detached copy, so the projections get gradient once per epoch.
:class:`RebuildSchedule` implements exactly that: a model marks it stale in ``pre_epoch`` and in ``train()`` (which
the trainer calls before every epoch and the evaluator, through ``eval()``, before every evaluation).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from missrec.modules.graph.knn import knn_item_graph
from missrec.modules.graph.sparse import mix_graphs, sym_normalise


class RebuildSchedule:
    """Holds the current learned graph: built with gradient when stale, reused detached otherwise."""

    def __init__(self) -> None:
        self.graph: torch.Tensor | None = None
        self.stale = True
        self.builds = 0

    def mark_stale(self) -> None:
        """The next :meth:`get` rebuilds."""
        self.stale = True

    def get(self, build: Callable[[], torch.Tensor]) -> torch.Tensor:
        """The graph for this forward: ``build()`` (with its autograd history) when stale, else the cached copy."""
        if self.stale or self.graph is None:
            graph = build()
            self.graph = graph.detach()
            self.stale = False
            self.builds += 1
            return graph
        return self.graph


def learned_knn_graph(
    projected: list[torch.Tensor],
    frozen: list[torch.Tensor],
    modality_weights: torch.Tensor | list[float],
    k: int,
    skip_lambda: float,
    chunk_rows: int | None = None,
) -> torch.Tensor:
    """LATTICE's item graph ``(1 - lambda) SYM(sum_m a_m kNN(H_m)) + lambda sum_m a_m S0_m`` (§4.4 step 2).

    Args:
        projected: ``H_m [I, d_f]`` per modality (carry gradient).
        frozen: ``S0_m`` per modality, from :func:`knn_item_graph` on the raw features (weighted, sym).
        modality_weights: ``a_m`` (LATTICE: softmax of a learned vector).
        k: neighbours per item.
        skip_lambda: lambda (0.9 in the papers): the weight of the frozen graph.

    For MICRO's per-modality graph call it with one modality and weight ``[1.0]``.
    """
    learned = [knn_item_graph(h, k, weighted=True, norm="none", chunk_rows=chunk_rows) for h in projected]
    learned_adj = sym_normalise(mix_graphs(learned, modality_weights))
    original_adj = mix_graphs(frozen, modality_weights)
    return mix_graphs([learned_adj, original_adj], [1.0 - skip_lambda, skip_lambda])
