"""Edge lists for PyG-style message passing (SEA's modality GCN, GRCN), without PyTorch Geometric.

Convention (PyG's ``source_to_target`` flow): ``edge_index[0]`` is the source, ``edge_index[1]`` the target, and a
message travels from source to target. Users are nodes ``0..U-1``, item ``i`` is node ``U + i``.

GRCN's released routing passes the one-directional user->item list, so user nodes never receive a message and the
routing loop changes nothing (graph_models.md §4.8); use ``bidirectional=True`` (or ``direction="item_to_user"``)
to give users messages.
"""

from __future__ import annotations

import torch

from missrec.modules.graph.adjacency import unique_pairs
from missrec.modules.graph.sparse import inverse_sqrt

DIRECTIONS = ("both", "user_to_item", "item_to_user")


def bipartite_edge_index(
    users: torch.Tensor, items: torch.Tensor, n_users: int, n_items: int, direction: str = "both"
) -> torch.Tensor:
    """``[2, E]`` (one direction) or ``[2, 2E]`` (``both``: user->item edges first, then their reverses).

    Args:
        users, items: ``[E]`` training interactions (item indices 0-based; offset by ``n_users`` here).
        n_users, n_items: U, I.
        direction: ``both``, ``user_to_item`` or ``item_to_user``.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction '{direction}'; known: {list(DIRECTIONS)}")
    users, items = unique_pairs(users, items, n_items)
    u2i = torch.stack([users, items + n_users])
    if direction == "user_to_item":
        return u2i
    if direction == "item_to_user":
        return u2i.flip(0)
    return torch.cat([u2i, u2i.flip(0)], 1)


def remove_self_loops(edge_index: torch.Tensor) -> torch.Tensor:
    """Drop edges whose source equals their target."""
    return edge_index[:, edge_index[0] != edge_index[1]]


def pyg_sym_weight(edge_index: torch.Tensor, n_nodes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """PyG-SYM weights (graph_models.md §3.1): self-loops removed, ``w = deg(src)^-1/2 deg(dst)^-1/2``.

    The degree is counted on ``edge_index[0]`` (MMGCN/DualGNN's ``degree(row)``), which equals the in-degree on a
    bidirectional list.

    Returns:
        ``(edge_index [2, E'], weight [E'])`` with the self-loops gone.
    """
    edge_index = remove_self_loops(edge_index)
    d = inverse_sqrt(torch.bincount(edge_index[0], minlength=n_nodes).float())  # [N]
    return edge_index, d[edge_index[0]] * d[edge_index[1]]
