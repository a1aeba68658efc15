"""Sparse graph building blocks shared by the graph recommenders (graph_models.md §3, §9).

* :mod:`.adjacency`: ``bipartite_adj(users, items, U, I, norm)`` with ``sym`` / ``rw_self_loop`` / ``none``, and
  ``bipartite_left_sqrt`` (MMSSL's BIP-1/2 operators ``P``, ``Q``);
* :mod:`.edges`: ``bipartite_edge_index`` and ``pyg_sym_weight`` (PyG-SYM) for edge-list message passing;
* :mod:`.message_passing`: ``message_pass`` (sum aggregation with ``index_add``) and ``edge_softmax`` (GAT);
* :mod:`.propagation`: ``propagate`` (mean / sum / last over layers), ``lightgcn_propagate``,
  ``alternating_bipartite_propagate`` (MMSSL);
* :mod:`.knn`: ``knn_item_graph`` (chunked cosine top-k, weighted or not, ``sym`` or no normalisation);
* :mod:`.learned`: ``learned_knn_graph`` (LATTICE/MICRO) and ``RebuildSchedule``;
* :mod:`.pruning`: ``degree_sensitive_prune`` (FREEDOM);
* :mod:`.sparse`: ``sparse_coo``, ``sym_normalise``, ``mix_graphs``, ``as_operator`` (CSR), ``spmm`` (fast
  backward with a precomputed transpose; for learned values, ``value_grad_spmm``: the values' gradient by SDDMM at
  the nonzeros, never a dense ``N x M`` gradient), ``transpose_operator``, ``sddmm``, ``WeightedSpMM`` and ``SampledDot``
  (GRCN's attention products and scores, with backward over precomputed patterns).
"""

from missrec.modules.graph.adjacency import ADJ_NORMS, bipartite_adj, bipartite_left_sqrt, unique_pairs
from missrec.modules.graph.edges import bipartite_edge_index, pyg_sym_weight, remove_self_loops
from missrec.modules.graph.knn import KNN_NORMS, cosine_topk, knn_item_graph
from missrec.modules.graph.learned import RebuildSchedule, learned_knn_graph
from missrec.modules.graph.message_passing import edge_softmax, message_pass
from missrec.modules.graph.propagation import alternating_bipartite_propagate, lightgcn_propagate, propagate
from missrec.modules.graph.pruning import degree_sensitive_prune
from missrec.modules.graph.sparse import as_operator, mix_graphs, sparse_coo, spmm, sym_normalise, transpose_operator

__all__ = [
    "ADJ_NORMS",
    "KNN_NORMS",
    "RebuildSchedule",
    "alternating_bipartite_propagate",
    "as_operator",
    "bipartite_adj",
    "bipartite_edge_index",
    "bipartite_left_sqrt",
    "cosine_topk",
    "degree_sensitive_prune",
    "edge_softmax",
    "knn_item_graph",
    "learned_knn_graph",
    "lightgcn_propagate",
    "message_pass",
    "mix_graphs",
    "propagate",
    "pyg_sym_weight",
    "remove_self_loops",
    "sparse_coo",
    "spmm",
    "sym_normalise",
    "transpose_operator",
    "unique_pairs",
]
