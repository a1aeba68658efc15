"""Sparse products whose values carry gradient: the SDDMM backward equals the dense reference, and the learned item
graph of LATTICE/MICRO gets exactly the gradients the dense computation gives (issue 11: no dense I x I gradient)."""

import pytest
import torch

from missrec.modules.graph import learned_knn_graph, propagate, sparse_coo, spmm
from missrec.modules.graph.knn import knn_item_graph
from missrec.modules.graph.sparse import WeightedSpMM, row_pointers, sddmm, value_grad_spmm


def random_pattern(n_rows: int, n_cols: int, nnz: int, seed: int) -> torch.Tensor:
    """``[2, nnz]`` indices with repeats (summed by coalescing) and at least one empty row and column."""
    gen = torch.Generator().manual_seed(seed)
    rows = torch.randint(0, n_rows - 1, (nnz,), generator=gen)  # the last row stays empty
    cols = torch.randint(1, n_cols, (nnz,), generator=gen)  # the first column stays empty
    return torch.stack([rows, cols])


def test_sddmm_and_row_pointers_by_hand():
    crow = row_pointers(torch.tensor([0, 0, 2]), 3)
    assert crow.tolist() == [0, 2, 2, 3]
    a = torch.tensor([[1.0, 2.0], [0.0, 0.0], [3.0, -1.0]])
    b = torch.tensor([[1.0, 1.0], [2.0, 0.0]])
    # stored (0, 0), (0, 1), (2, 1): <a0, b0> = 3, <a0, b1> = 2, <a2, b1> = 6
    assert sddmm(crow, torch.tensor([0, 1, 1]), a, b).tolist() == [3.0, 2.0, 6.0]


@pytest.mark.parametrize("shape", [(7, 7), (5, 9), (9, 4)])
def test_value_gradient_equals_the_dense_reference(shape):
    n_rows, n_cols = shape
    indices = random_pattern(n_rows, n_cols, 3 * n_rows, seed=n_rows + n_cols)
    gen = torch.Generator().manual_seed(1)
    raw = torch.rand(indices.shape[1], generator=gen, dtype=torch.float64).requires_grad_(True)
    x = torch.randn(n_cols, 3, generator=gen, dtype=torch.float64).requires_grad_(True)
    weight = torch.randn(n_rows, 3, generator=gen, dtype=torch.float64)

    out = value_grad_spmm(sparse_coo(indices, raw * 2.0, shape), x)  # values built with gradient, repeats summed
    (out * weight).sum().backward()
    got_raw, got_x = raw.grad.clone(), x.grad.clone()
    raw.grad, x.grad = None, None

    dense = torch.zeros(shape, dtype=torch.float64).index_put((indices[0], indices[1]), raw * 2.0, accumulate=True)
    ref = dense @ x
    (ref * weight).sum().backward()
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(got_raw, raw.grad)
    torch.testing.assert_close(got_x, x.grad)
    # by hand: dL/draw_e = 2 <weight[r_e], x[c_e]>
    torch.testing.assert_close(got_raw, 2.0 * (weight[indices[0]] * x.detach()[indices[1]]).sum(1))


def test_spmm_routes_learned_values_through_the_sddmm_backward():
    indices = random_pattern(6, 6, 15, seed=0)
    values = torch.rand(15, requires_grad=True)
    adj = sparse_coo(indices, values, (6, 6))
    out = spmm(adj, torch.randn(6, 2))
    assert type(out.grad_fn).__name__ == f"{WeightedSpMM.__name__}Backward"
    fixed = sparse_coo(indices, values.detach(), (6, 6))
    assert spmm(fixed, torch.randn(6, 2)).grad_fn is None  # values without gradient: torch's plain product
    with torch.no_grad():
        assert spmm(adj, torch.randn(6, 2)).grad_fn is None


def test_learned_graph_propagation_has_the_dense_gradients():
    """LATTICE's graph (two modalities, learned + frozen, mixed, two layers) against dense matrices of the same graph.

    float32: the kNN graph is built in float32 whatever the input.
    """
    gen = torch.Generator().manual_seed(3)
    n, k = 12, 3
    raw = [torch.randn(n, 6, generator=gen) for _ in range(2)]
    frozen = [knn_item_graph(x, k, weighted=True, norm="sym") for x in raw]
    proj = [torch.randn(6, 4, generator=gen).requires_grad_(True) for _ in range(2)]
    mix = torch.zeros(2, requires_grad=True)
    emb = torch.randn(n, 5, generator=gen).requires_grad_(True)
    target = torch.randn(n, 5, generator=gen)
    params = [*proj, mix, emb]

    def loss(dense: bool) -> list[torch.Tensor]:
        graph = learned_knn_graph([x @ w for x, w in zip(raw, proj)], frozen, torch.softmax(mix, 0), k, 0.9)
        if dense:
            a = graph.to_dense()
            h = a @ (a @ emb)
        else:
            h = propagate(graph, emb, 2, "last")
        return torch.autograd.grad((h * target).sum(), params)

    for got, ref in zip(loss(dense=False), loss(dense=True), strict=True):
        torch.testing.assert_close(got, ref)
        assert ref.abs().sum() > 0
