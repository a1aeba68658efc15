"""Message passing over an edge list with ``index_add_`` (PyG's sum aggregation and softmax, no PyG).

``edge_index`` follows :mod:`missrec.modules.graph.edges`: row 0 = source, row 1 = target.
"""

from __future__ import annotations

import torch


def message_pass(
    x: torch.Tensor,
    edge_index: torch.Tensor,
    edge_weight: torch.Tensor | None = None,
    n_nodes: int | None = None,
) -> torch.Tensor:
    """Sum aggregation ``out[t] = sum_{(s, t) in E} w_st * x[s]`` (= ``A @ x`` with ``A[t, s] = w_st``).

    Args:
        x: ``[N_src, d]`` node features.
        edge_index: ``[2, E]`` (source, target).
        edge_weight: ``[E]`` per-edge weights (PyG-SYM, GRCN's learned weights, attention); ``None`` = 1.
        n_nodes: rows of the output (default ``x.shape[0]``).

    Returns:
        ``[n_nodes, d]``; nodes without incoming edges get zeros.
    """
    src, dst = edge_index
    messages = x[src]  # [E, d]
    if edge_weight is not None:
        messages = messages * edge_weight.unsqueeze(-1)
    out = torch.zeros((n_nodes if n_nodes is not None else x.shape[0], x.shape[1]), dtype=messages.dtype, device=x.device)
    return out.index_add(0, dst, messages)


def edge_softmax(scores: torch.Tensor, index: torch.Tensor, n_nodes: int) -> torch.Tensor:
    """Softmax of ``scores [E]`` over the edges sharing the same ``index`` (usually the target): GAT's alpha.

    Numerically stable (the per-group maximum is subtracted), like ``torch_geometric.utils.softmax``.
    """
    group_max = torch.full((n_nodes,), float("-inf"), dtype=scores.dtype, device=scores.device)
    group_max = group_max.scatter_reduce(0, index, scores.detach(), reduce="amax", include_self=True)
    exp = (scores - group_max[index]).exp()
    denom = torch.zeros(n_nodes, dtype=scores.dtype, device=scores.device).index_add(0, index, exp)
    return exp / (denom[index] + 1e-16)
