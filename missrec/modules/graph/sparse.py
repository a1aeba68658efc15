"""Small sparse-tensor helpers shared by every graph builder: build, normalise, mix, multiply.

Graphs are ``torch.sparse_coo`` tensors (coalesced). Fixed graphs that are multiplied many times are turned into
CSR with :func:`as_operator`; :func:`spmm` with a precomputed transpose then avoids the sort torch does in every
backward of ``A @ X`` (it rebuilds ``A^T``), which halves a LightGCN step on CPU.

Values may carry gradient (LATTICE/MICRO's learned item graphs, GRCN's attention weights): every builder here is
differentiable in the values, and :func:`spmm` of a COO matrix whose values need gradient goes through
:class:`WeightedSpMM`, whose backward computes ``dL/dA`` only at the stored entries (an SDDMM,
``dL/dA_rc = <g_r, x_c>``: ``O(nnz d)``). torch's own ``A @ X`` backward forms ``g x^T``, a dense ``N x M`` matrix:
15.9 GB at 63k items.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence

import torch


@contextlib.contextmanager
def _quiet_csr() -> Iterator[None]:
    """Silence "Sparse CSR tensor support is in beta state": products are what we use."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        yield


def _to_csr(graph: torch.Tensor) -> torch.Tensor:
    with _quiet_csr():
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
    for graph, weight in zip(graphs, weights, strict=True):
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


def csr_matrix(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """A CSR matrix from its parts (row pointers ``[N+1]``, columns ``[nnz]``, values ``[nnz]``), unchecked."""
    with _quiet_csr():
        return torch.sparse_csr_tensor(crow, col, values, shape, check_invariants=False)


def row_pointers(rows: torch.Tensor, n_rows: int) -> torch.Tensor:
    """CSR row pointers ``[n_rows + 1]`` of row indices ``rows [nnz]`` sorted by row."""
    return torch.cat([rows.new_zeros(1), torch.bincount(rows, minlength=n_rows).cumsum(0)])


def sddmm(crow: torch.Tensor, col: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Sampled dense-dense product: ``<a[r], b[c]>`` for every stored ``(r, c)`` of a CSR pattern, in CSR order.

    Args:
        crow, col: the pattern of an ``[N, M]`` matrix.
        a: ``[N, d]``; b: ``[M, d]``.

    Returns:
        ``[nnz]``; no ``N x M`` or ``[nnz, d]`` tensor is formed.
    """
    mask = csr_matrix(crow, col, a.new_ones(col.shape[0]), (a.shape[0], b.shape[0]))
    return torch.sparse.sampled_addmm(mask, a.contiguous(), b.T, beta=0.0).values()


class SampledDot(torch.autograd.Function):
    """``s_e = <a[r_e], b[c_e]>`` for every stored ``(r, c)`` of a CSR pattern (:func:`sddmm`), with gradient to ``a``
    and ``b`` by two CSR products over the known pattern and its transpose.

    ``apply(a [N, d], b [M, d], crow [N+1], col [nnz], crow_t [M+1], col_t [nnz], to_t [nnz]) -> [nnz]`` with the
    arguments of :class:`WeightedSpMM`. Backward: ``dL/da = S(g) b`` and ``dL/db = S(g)^T a``, ``S(g)`` the pattern
    holding the incoming gradient. torch's own ``sampled_addmm`` backward rebuilds the transposed pattern (a COO sort
    and a CSR conversion) at every call.
    """

    @staticmethod
    def forward(ctx, a, b, crow, col, crow_t, col_t, to_t):
        ctx.save_for_backward(a, b, crow, col, crow_t, col_t, to_t)
        return sddmm(crow, col, a.detach(), b.detach())

    @staticmethod
    def backward(ctx, grad):
        a, b, crow, col, crow_t, col_t, to_t = ctx.saved_tensors
        grad = grad.contiguous()
        n_rows, n_cols = crow.shape[0] - 1, crow_t.shape[0] - 1
        grad_a = csr_matrix(crow, col, grad, (n_rows, n_cols)) @ b if ctx.needs_input_grad[0] else None
        grad_b = csr_matrix(crow_t, col_t, grad[to_t], (n_cols, n_rows)) @ a if ctx.needs_input_grad[1] else None
        return grad_a, grad_b, None, None, None, None, None


class WeightedSpMM(torch.autograd.Function):
    """``out = A(w) @ x`` for a fixed CSR pattern with values ``w``; both ``w`` and ``x`` get gradient.

    ``apply(w [nnz], x [M, d], crow [N+1], col [nnz], crow_t [M+1], col_t [nnz], to_t [nnz]) -> [N, d]``, where
    ``(crow_t, col_t)`` is the pattern of ``A^T`` and ``to_t[p]`` the entry of ``w`` at position ``p`` of ``A^T``.
    Backward: ``dL/dw = SDDMM(g, x)`` at the pattern and ``dL/dx = A^T g``: memory ``O(nnz + N d + M d)``.
    """

    @staticmethod
    def forward(ctx, w, x, crow, col, crow_t, col_t, to_t):
        ctx.save_for_backward(w, x, crow, col, crow_t, col_t, to_t)
        return csr_matrix(crow, col, w.detach(), (crow.shape[0] - 1, x.shape[0])) @ x

    @staticmethod
    def backward(ctx, grad):
        w, x, crow, col, crow_t, col_t, to_t = ctx.saved_tensors
        grad_w = sddmm(crow, col, grad, x) if ctx.needs_input_grad[0] else None  # dL/dw_rc = <g_r, x_c>
        grad_x = None
        if ctx.needs_input_grad[1]:
            grad_x = csr_matrix(crow_t, col_t, w.detach()[to_t], (x.shape[0], crow.shape[0] - 1)) @ grad  # A^T g
        return grad_w, grad_x, None, None, None, None, None


def value_grad_spmm(adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``adj @ x`` for a COO ``adj [N, M]`` whose values carry gradient, without a dense ``N x M`` gradient.

    The values' gradient is computed at the stored entries only (:class:`WeightedSpMM`); it reaches whatever built
    ``adj`` through ``adj.values()``. Equal to ``adj @ x`` in value and in both gradients.
    """
    adj = adj.coalesce()  # row-major order: COO order is CSR order
    n_rows, n_cols = adj.shape
    rows, cols = adj.indices()
    to_t = torch.argsort(cols * n_rows + rows)  # position in A^T -> entry
    return WeightedSpMM.apply(
        adj.values(), x, row_pointers(rows, n_rows), cols, row_pointers(cols, n_cols), rows[to_t], to_t
    )


def spmm(adj: torch.Tensor, x: torch.Tensor, adj_t: torch.Tensor | None = None) -> torch.Tensor:
    """``adj @ x`` for sparse ``adj [N, M]`` and dense ``x [M, d]``.

    Args:
        adj: COO or CSR matrix. A COO matrix whose values need gradient goes through :func:`value_grad_spmm`.
        x: dense matrix.
        adj_t: ``adj``'s transpose ``[M, N]`` (``adj`` itself for a symmetric graph). When given, the backward
            uses it directly and ``adj`` gets no gradient (fixed graphs only).
    """
    if adj_t is not None:
        return _FixedSpMM.apply(adj, adj_t, x)
    if adj.layout == torch.sparse_coo and adj.requires_grad and torch.is_grad_enabled():
        return value_grad_spmm(adj, x)
    return adj @ x


def transpose_operator(graph: torch.Tensor) -> torch.Tensor:
    """CSR of ``graph^T`` (for :func:`spmm` on a non-symmetric fixed graph)."""
    return _to_csr(graph.coalesce().t().coalesce())


def to_dense_small(graph: torch.Tensor) -> torch.Tensor:
    """Dense copy, for tests and debugging on tiny graphs only."""
    return graph.to_dense()
