"""GRCN's parameter-free graph attention layer over an edge list (graph_models.md §4.8, §3.1 GRCN).

``alpha_st = softmax over the edges entering t of <x_t, x_s>`` and ``out[t] = sum_s alpha_st x_s``: a GAT layer with
no weight matrix and a plain dot-product score (GRCN's ``GATConv``). ``edge_index`` follows
:mod:`missrec.modules.graph.edges` (row 0 = source, row 1 = target; messages travel source -> target), so which
nodes receive messages depends on the direction of the list: on GRCN's released user->item list the users receive
none (§4.8), on the item->user list every user attends over its items.
"""

from __future__ import annotations

import torch

from missrec.modules.graph.message_passing import edge_softmax, message_pass


def dot_attention_conv(
    x: torch.Tensor, edge_index: torch.Tensor, n_nodes: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One parameter-free dot-product attention layer (see module doc).

    Args:
        x: ``[N, d]`` node features (sources and targets index the same table).
        edge_index: ``[2, E]`` (source, target), without self-loops (bipartite edges have none).
        n_nodes: rows of the output (default ``x.shape[0]``).

    Returns:
        ``(out [N, d], alpha [E])``: aggregated messages (zeros for nodes without incoming edges) and the attention
        coefficient of every edge, in the order of ``edge_index``.
    """
    n = x.shape[0] if n_nodes is None else n_nodes
    src, dst = edge_index
    scores = (x[src] * x[dst]).sum(-1)  # [E]
    alpha = edge_softmax(scores, dst, n)  # [E], sums to 1 over the edges entering each target
    return message_pass(x, edge_index, alpha, n), alpha
