"""Adjacency normalisations and propagation on a hand-computed graph.

Graph: 2 users, 3 items, interactions (u0, i0), (u0, i1), (u1, i1) and a repeated (u0, i0). Node order
u0, u1, i0, i1, i2. Degrees: u0 2, u1 1, i0 1, i1 2, i2 0.
"""

import math

import torch

from missrec.modules.graph import (
    alternating_bipartite_propagate,
    as_operator,
    bipartite_adj,
    bipartite_left_sqrt,
    lightgcn_propagate,
    propagate,
    spmm,
    transpose_operator,
)

USERS = torch.tensor([0, 0, 1, 0])
ITEMS = torch.tensor([0, 1, 1, 0])
S2 = 1 / math.sqrt(2)


def dense(graph):
    return graph.to_dense()


def test_sym_is_d_half_a_d_half_without_self_loops():
    expected = torch.zeros(5, 5)
    expected[0, 2] = expected[2, 0] = 1 / math.sqrt(2 * 1)
    expected[0, 3] = expected[3, 0] = 1 / math.sqrt(2 * 2)
    expected[1, 3] = expected[3, 1] = 1 / math.sqrt(1 * 2)
    got = dense(bipartite_adj(USERS, ITEMS, 2, 3, "sym"))
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


def test_rw_self_loop_rows_sum_to_one():
    expected = torch.zeros(5, 5)
    expected[0, [0, 2, 3]] = 1 / 3  # rowsum(A + I) of u0 = 3
    expected[1, [1, 3]] = 1 / 2
    expected[2, [0, 2]] = 1 / 2
    expected[3, [0, 1, 3]] = 1 / 3
    expected[4, 4] = 1.0  # the isolated item keeps itself
    got = dense(bipartite_adj(USERS, ITEMS, 2, 3, "rw_self_loop"))
    torch.testing.assert_close(got, expected, atol=1e-7, rtol=0)


def test_none_is_binary_and_deduplicated():
    got = dense(bipartite_adj(USERS, ITEMS, 2, 3, "none"))
    assert got.sum() == 6 and got.max() == 1


def test_bip_half_scales_rows_only():
    p, q = bipartite_left_sqrt(USERS, ITEMS, 2, 3)
    torch.testing.assert_close(dense(p), torch.tensor([[S2, S2, 0.0], [0.0, 1.0, 0.0]]), atol=1e-6, rtol=0)
    torch.testing.assert_close(dense(q), torch.tensor([[1.0, 0.0], [S2, S2], [0.0, 0.0]]), atol=1e-6, rtol=0)


def test_lightgcn_mean_includes_layer_zero():
    adj = bipartite_adj(USERS, ITEMS, 2, 3, "sym")
    x = torch.tensor([[1.0], [0.0], [0.0], [0.0], [0.0]])  # u0 one-hot
    # A x = column u0 = (0, 0, 1/sqrt2, 1/2, 0); A^2 x: u0 = 1/2 + 1/4 = 0.75, u1 = 1/sqrt2 * 1/2
    expected = torch.tensor([[(1 + 0.75) / 3], [S2 * 0.5 / 3], [S2 / 3], [0.5 / 3], [0.0]])
    torch.testing.assert_close(propagate(adj, x, 2, "mean"), expected, atol=1e-6, rtol=0)
    users, items = lightgcn_propagate(as_operator(adj), x[:2], x[2:], 2, adj_t=as_operator(adj))
    torch.testing.assert_close(torch.cat([users, items]), expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(propagate(adj, x, 2, "sum"), expected * 3, atol=1e-6, rtol=0)
    torch.testing.assert_close(propagate(adj, x, 1, "last"), torch.tensor([[0.0], [0.0], [S2], [0.5], [0.0]]), atol=1e-6, rtol=0)


def test_spmm_with_given_transpose_has_the_exact_gradient():
    adj = bipartite_adj(USERS, ITEMS, 2, 3, "rw_self_loop")  # not symmetric
    x = torch.randn(5, 3, requires_grad=True)
    (spmm(as_operator(adj), x, transpose_operator(adj)) ** 2).sum().backward()
    fast = x.grad.clone()
    x.grad = None
    ((dense(adj) @ x) ** 2).sum().backward()
    torch.testing.assert_close(fast, x.grad)


def test_alternating_bipartite_propagation():
    p, q = bipartite_left_sqrt(USERS, ITEMS, 2, 3)
    users, items = torch.tensor([[1.0], [0.0]]), torch.tensor([[1.0], [2.0], [3.0]])
    u, i = alternating_bipartite_propagate(p, q, users, items, 1)
    u1 = torch.tensor([[3 * S2], [2.0]])  # P I0
    i1 = torch.tensor([[3 * S2], [(3 * S2 + 2) * S2], [0.0]])  # Q U1 (this layer's users)
    torch.testing.assert_close(u, (users + u1) / 2, atol=1e-6, rtol=0)
    torch.testing.assert_close(i, (items + i1) / 2, atol=1e-6, rtol=0)
    u, i = alternating_bipartite_propagate(p, q, users.repeat(1, 2), items.repeat(1, 2), 1, softmax_last=True)
    torch.testing.assert_close(u, (users.repeat(1, 2) + 0.5) / 2)  # softmax of equal columns = 1/2 each
    torch.testing.assert_close(i, (items.repeat(1, 2) + 0.5) / 2)
