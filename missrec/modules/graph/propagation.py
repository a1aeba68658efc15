"""Propagation of embeddings over a normalised graph: LightGCN (graph_models.md §3.2) and its variants.

``propagate`` computes ``E^(l+1) = A E^(l)`` for ``l < L`` and combines the layers:

* ``mean``: ``mean_{l=0..L} E^(l)`` with layer 0 included (LightGCN, BM3, FREEDOM, LATTICE, MICRO);
* ``sum``:  ``sum_{l=0..L} E^(l)`` (SEA's and GRCN's ``x + h1 + h2`` "sum residual");
* ``last``: ``E^(L)`` (LATTICE/MICRO/FREEDOM's item-graph convolution ``S^L E_i``).

``adj`` may be COO or CSR (:func:`missrec.modules.graph.sparse.as_operator`). Pass ``adj_t`` (``adj`` itself for a
symmetric graph such as SYM, its transpose otherwise) for fixed graphs: the backward is then much cheaper
(:func:`missrec.modules.graph.sparse.spmm`); leave it ``None`` when the graph's values need gradient.
"""

from __future__ import annotations

import torch

from missrec.modules.graph.sparse import spmm

COMBINES = ("mean", "sum", "last")


def propagate(
    adj: torch.Tensor, x: torch.Tensor, n_layers: int, combine: str = "mean", adj_t: torch.Tensor | None = None
) -> torch.Tensor:
    """Propagate ``x [N, d]`` over ``adj [N, N]`` for ``n_layers`` and combine the layers (see module doc)."""
    if combine not in COMBINES:
        raise ValueError(f"unknown combine '{combine}'; known: {list(COMBINES)}")
    if n_layers < 0:
        raise ValueError(f"n_layers must be >= 0, got {n_layers}")
    layers = [x]
    h = x
    for _ in range(n_layers):
        h = spmm(adj, h, adj_t)
        layers.append(h)
    if combine == "last":
        return h
    stacked = torch.stack(layers, 0)  # [L+1, N, d]
    return stacked.mean(0) if combine == "mean" else stacked.sum(0)


def lightgcn_propagate(
    adj: torch.Tensor,
    user_emb: torch.Tensor,
    item_emb: torch.Tensor,
    n_layers: int,
    adj_t: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """LightGCN: ``mean_{l=0..L} A^l [E_u; E_i]``, split back into ``([U, d], [I, d])`` (``adj_t``: see module doc)."""
    out = propagate(adj, torch.cat([user_emb, item_emb], 0), n_layers, "mean", adj_t)
    return out[: user_emb.shape[0]], out[user_emb.shape[0] :]


def alternating_bipartite_propagate(
    p: torch.Tensor,
    q: torch.Tensor,
    user_emb: torch.Tensor,
    item_emb: torch.Tensor,
    n_layers: int,
    softmax_last: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """MMSSL's propagation on the rectangular BIP-1/2 operators (graph_models.md §4.9 step 6).

    ``U^l = P I^(l-1)``, then ``I^l = Q U^l`` (the item update uses this layer's new users); with
    ``softmax_last`` both outputs of the last layer go through a softmax over the embedding dimension. The result is
    the mean over ``l = 0..L``.

    Args:
        p: ``[U, I]``; q: ``[I, U]``; user_emb: ``[U, d]``; item_emb: ``[I, d]``.
    """
    users, items = [user_emb], [item_emb]
    u, i = user_emb, item_emb
    for layer in range(n_layers):
        u = p @ i
        if softmax_last and layer == n_layers - 1:
            u = torch.softmax(u, -1)
        i = q @ u
        if softmax_last and layer == n_layers - 1:
            i = torch.softmax(i, -1)
        users.append(u)
        items.append(i)
    return torch.stack(users, 0).mean(0), torch.stack(items, 0).mean(0)
