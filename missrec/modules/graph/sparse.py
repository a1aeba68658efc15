"""Small sparse-tensor helpers shared by every graph builder: build, normalise, mix, multiply.

Graphs are ``torch.sparse_coo`` tensors (coalesced). Fixed graphs that are multiplied many times are turned into
CSR with :func:`as_operator`; :func:`spmm` with a precomputed transpose then avoids the sort torch does in every
backward of ``A @ X`` (it rebuilds ``A^T``), which halves a LightGCN step on CPU. Values may carry gradient
(learned item graphs): :func:`spmm` without ``adj_t`` and every builder here are differentiable in the values.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch



def _to_csr(graph: torch.Tensor) -> torch.Tensor:
    with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state": products are what we use
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        return graph.to_sparse_csr()


def sparse_coo(indices: torch.Tensor, values: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A coalesced COO matrix from ``indices [2, nnz]`` and ``values [nnz]`` (duplicates are summed)."""
    return torch.sparse_coo_tensor(indices, values, size, check_invariants=False).coalesce()


def inverse_sqrt(values: torch.Tensor) -> torch.Tensor:
    """``values ** -0.5`` with 0 where ``values <= 0`` (isolated or degenerate nodes get no weight)."""
    safe = torch.where(values > 0, values, torch.ones_like(values))
    return torch.where(values > 0, safe.pow(-0.5), torch.zeros_like(values))


def row_sums(graph: torch.Tensor) -> torch.Tensor:
    """Row sums ``[n_rows]`` of a coalesced COO matrix (differentiable in the values)."""
    rows = graph.indices()[0]
    return torch.zeros(graph.shape[0], dtype=graph.dtype, device=graph.device).index_add(0, rows, graph.values())


def sym_normalise(graph: torch.Tensor) -> torch.Tensor:
    """``D^-1/2 G D^-1/2`` with ``D = rowsum(G)`` on both sides (LATTICE/MICRO/FREEDOM, graph_models.md §3.3).

    ``G`` need not be symmetric: the row degree is used for the columns too, as the released code does. Rows whose
    sum is not positive are zeroed (the released code would produce inf/NaN there).
    """
    graph = graph.coalesce()
    d = inverse_sqrt(row_sums(graph))  # [n]
    rows, cols = graph.indices()
    return sparse_coo(graph.indices(), d[rows] * graph.values() * d[cols], tuple(graph.shape))


def mix_graphs(graphs: Sequence[torch.Tensor], weights: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """``sum_m weights[m] * graphs[m]`` for same-shape COO matrices; ``weights`` may be a tensor with gradient."""
    if len(graphs) != len(weights):
        raise ValueError(f"{len(graphs)} graphs but {len(weights)} weights")
    if len(graphs) == 0:
        raise ValueError("mix_graphs needs at least one graph")
    shape = tuple(graphs[0].shape)
    indices, values = [], []
    for graph, weight in zip(graphs, weights):
        if tuple(graph.shape) != shape:
            raise ValueError(f"graph shapes differ: {shape} vs {tuple(graph.shape)}")
        graph = graph.coalesce()
        indices.append(graph.indices())
        values.append(graph.values() * weight)
    return sparse_coo(torch.cat(indices, 1), torch.cat(values), shape)


def as_operator(graph: torch.Tensor) -> torch.Tensor:
    """CSR copy of a COO matrix for fast repeated ``graph @ X`` (values should not need gradient)."""
    return _to_csr(graph.coalesce())


class _FixedSpMM(torch.autograd.Function):
    """``A @ X`` whose backward is ``A^T @ G`` with a given ``A^T`` (no gradient for A)."""

    @staticmethod
    def forward(ctx, adj: torch.Tensor, adj_t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.adj_t = adj_t
        return adj @ x

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return None, None, ctx.adj_t @ grad


def spmm(adj: torch.Tensor, x: torch.Tensor, adj_t: torch.Tensor | None = None) -> torch.Tensor:
    """``adj @ x`` for sparse ``adj [N, M]`` and dense ``x [M, d]``.

    Args:
        adj: COO or CSR matrix.
        x: dense matrix.
        adj_t: ``adj``'s transpose ``[M, N]`` (``adj`` itself for a symmetric graph). When given, the backward
            uses it directly and ``adj`` gets no gradient (fixed graphs only).
    """
    if adj_t is None:
        return adj @ x
    return _FixedSpMM.apply(adj, adj_t, x)


def transpose_operator(graph: torch.Tensor) -> torch.Tensor:
    """CSR of ``graph^T`` (for :func:`spmm` on a non-symmetric fixed graph)."""
    return _to_csr(graph.coalesce().t().coalesce())


def to_dense_small(graph: torch.Tensor) -> torch.Tensor:
    """Dense copy, for tests and debugging on tiny graphs only."""
    return graph.to_dense()
