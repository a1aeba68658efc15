"""The user-item bipartite graph with the named normalisations of graph_models.md §3.1.

The graph has ``N = n_users + n_items`` nodes: users are ``0..U-1`` and item ``i`` is node ``U + i``, so
``A = [[0, R], [R^T, 0]]`` for the binary training matrix ``R [U, I]``. Repeated (user, item) pairs count once, as in
the released codes' ``dok_matrix``. Every builder returns a coalesced ``torch.sparse_coo`` float32 tensor.

| norm            | formula                                                       | used by                          |
|-----------------|---------------------------------------------------------------|----------------------------------|
| ``sym``         | ``D^-1/2 A D^-1/2``, ``D_ii = deg_i + 1e-7``, no self-loops   | LightGCN, BM3, FREEDOM (MMRec)   |
| ``rw_self_loop``| ``D~^-1 (A + I)``, ``D~ = rowsum(A + I)``                     | LATTICE, MICRO                   |
| ``none``        | ``A``                                                         | GRCN-W (weights learned instead) |
| BIP-1/2         | ``P = D_u^-1/2 R``, ``Q = D_i^-1/2 R^T`` (rectangular, +1e-8) | MMSSL: :func:`bipartite_left_sqrt` |

PyG-style edge lists for SEA/GRCN message passing are in :mod:`missrec.modules.graph.edges`.
"""

from __future__ import annotations

import torch

from missrec.modules.graph.sparse import sparse_coo

ADJ_NORMS = ("sym", "rw_self_loop", "none")


def unique_pairs(users: torch.Tensor, items: torch.Tensor, n_items: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Deduplicated ``(users, items)`` pairs sorted by (user, item)."""
    key = torch.unique(users.long() * n_items + items.long())
    return key // n_items, key % n_items


def bipartite_adj(
    users: torch.Tensor,
    items: torch.Tensor,
    n_users: int,
    n_items: int,
    norm: str = "sym",
    eps: float = 1e-7,
) -> torch.Tensor:
    """Normalised ``(U+I) x (U+I)`` adjacency of the training interactions.

    Args:
        users: ``[E]`` user index of every training interaction.
        items: ``[E]`` item index of every training interaction (0-based, *not* offset by ``n_users``).
        n_users: U.
        n_items: I.
        norm: one of :data:`ADJ_NORMS` (see the module table).
        eps: added to the degrees of ``sym`` (MMRec's 1e-7, keeps isolated nodes finite).

    Returns:
        Coalesced sparse COO ``[U+I, U+I]``.
    """
    if norm not in ADJ_NORMS:
        raise ValueError(f"unknown adjacency norm '{norm}'; known: {list(ADJ_NORMS)} (BIP-1/2: bipartite_left_sqrt)")
    users, items = unique_pairs(users, items, n_items)
    n = n_users + n_items
    rows = torch.cat([users, items + n_users])
    cols = torch.cat([items + n_users, users])
    if norm == "rw_self_loop":
        loops = torch.arange(n, device=rows.device)
        rows, cols = torch.cat([rows, loops]), torch.cat([cols, loops])
    degree = torch.bincount(rows, minlength=n).to(torch.float32)  # [N], row sums of A (+ I)
    if norm == "sym":
        d = (degree + eps).pow(-0.5)
        values = d[rows] * d[cols]
    elif norm == "rw_self_loop":
        values = 1.0 / degree[rows]
    else:
        values = torch.ones_like(rows, dtype=torch.float32)
    return sparse_coo(torch.stack([rows, cols]), values, (n, n))


def bipartite_left_sqrt(
    users: torch.Tensor, items: torch.Tensor, n_users: int, n_items: int, eps: float = 1e-8
) -> tuple[torch.Tensor, torch.Tensor]:
    """MMSSL's BIP-1/2 operators: ``P = D_u^-1/2 R`` ``[U, I]`` and ``Q = D_i^-1/2 R^T`` ``[I, U]``.

    Only the left (row) side is scaled (the released ``csr_norm(mean_flag=True)``), with ``deg + eps``.
    """
    users, items = unique_pairs(users, items, n_items)
    du = (torch.bincount(users, minlength=n_users).float() + eps).pow(-0.5)  # [U]
    di = (torch.bincount(items, minlength=n_items).float() + eps).pow(-0.5)  # [I]
    p = sparse_coo(torch.stack([users, items]), du[users], (n_users, n_items))
    q = sparse_coo(torch.stack([items, users]), di[items], (n_items, n_users))
    return p, q
