"""GRCN's parameter-free dot-product attention on a hand-computed user-item graph, its equivalence with the edge-list
GAT layer on the bidirectional list, and the exact gradients of the sparse products with learned edge weights."""

import math

import torch

from missrec.modules.graph import bipartite_edge_index, edge_softmax, message_pass
from missrec.modules.graph.attention import BipartiteEdges, bipartite_dot_attention

# two users, two items; user 0 has both items, user 1 has item 1
USERS = torch.tensor([0, 0, 1])
ITEMS = torch.tensor([0, 1, 1])
USER_X = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
ITEM_X = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
EDGES = BipartiteEdges(USERS, ITEMS, 2, 2)


def test_hand_computed_attention_in_both_directions():
    att = bipartite_dot_attention(EDGES, USER_X, ITEM_X)
    # scores <u, i>: (0,0) = 2, (0,1) = 0, (1,1) = 1
    a = math.exp(2) / (math.exp(2) + 1)
    torch.testing.assert_close(att.alpha_to_users, torch.tensor([a, 1 - a, 1.0]))  # over the items of each user
    torch.testing.assert_close(att.to_users[0], a * ITEM_X[0] + (1 - a) * ITEM_X[1])
    torch.testing.assert_close(att.to_users[1], ITEM_X[1])
    b = math.exp(1) / (math.exp(1) + 1)  # item 1: users 0 (score 0) and 1 (score 1)
    torch.testing.assert_close(att.alpha_to_items, torch.tensor([1.0, 1 - b, b]))
    torch.testing.assert_close(att.to_items[0], USER_X[0])
    torch.testing.assert_close(att.to_items[1], (1 - b) * USER_X[0] + b * USER_X[1])
    users_only = bipartite_dot_attention(EDGES, USER_X, ITEM_X, to_items=False)
    assert users_only.to_items is None and torch.equal(users_only.to_users, att.to_users)


def edge_list_gat(x, edge_index):
    """The released layer: alpha = softmax over incoming edges of <x_dst, x_src>, sum of alpha x_src."""
    src, dst = edge_index
    alpha = edge_softmax((x[src] * x[dst]).sum(-1), dst, x.shape[0])
    return message_pass(x, edge_index, alpha), alpha


def test_equals_the_edge_list_layer_and_the_released_direction_reaches_no_user():
    gen = torch.Generator().manual_seed(0)
    users, items = torch.tensor([0, 0, 1, 2, 2, 2]), torch.tensor([0, 3, 1, 1, 2, 3])
    user_x, item_x = torch.randn(3, 5, generator=gen), torch.randn(4, 5, generator=gen)
    x = torch.cat([user_x, item_x])
    out, alpha = edge_list_gat(x, bipartite_edge_index(users, items, 3, 4, "both"))
    att = bipartite_dot_attention(BipartiteEdges(users, items, 3, 4), user_x, item_x)
    torch.testing.assert_close(torch.cat([att.to_users, att.to_items]), out)
    torch.testing.assert_close(torch.cat([att.alpha_to_items, att.alpha_to_users]), alpha)  # [u->i; i->u] order
    released, _ = edge_list_gat(x, bipartite_edge_index(users, items, 3, 4, "user_to_item"))
    assert released[:3].abs().sum() == 0  # graph_models.md §4.8: routing on this list never changes a user


def test_gradient_reaches_users_and_items():
    user_x, item_x = USER_X.clone().requires_grad_(True), ITEM_X.clone().requires_grad_(True)
    att = bipartite_dot_attention(EDGES, user_x, item_x)
    (att.to_users.sum() + att.to_items.sum()).backward()
    assert torch.isfinite(user_x.grad).all() and user_x.grad.abs().sum() > 0 and item_x.grad.abs().sum() > 0


def test_weighted_products_and_their_gradients_match_the_dense_matrix():
    gen = torch.Generator().manual_seed(1)
    users, items = torch.tensor([2, 0, 0, 1, 2, 2, 0]), torch.tensor([1, 0, 3, 1, 2, 3, 0])  # unsorted, one duplicate
    edges = BipartiteEdges(users, items, 3, 4)
    assert edges.users.tolist() == [0, 0, 1, 2, 2, 2] and edges.items.tolist() == [0, 3, 1, 1, 2, 3]
    w = torch.randn(6, generator=gen, dtype=torch.float64, requires_grad=True)
    user_x = torch.randn(3, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    item_x = torch.randn(4, 5, generator=gen, dtype=torch.float64, requires_grad=True)

    def dense(w):
        return torch.zeros(3, 4, dtype=torch.float64).index_put((edges.users, edges.items), w)

    torch.testing.assert_close(edges.to_users(w, item_x), dense(w) @ item_x)
    torch.testing.assert_close(edges.to_items(w, user_x), dense(w).T @ user_x)
    torch.testing.assert_close(edges.scores(user_x, item_x), (user_x @ item_x.T)[edges.users, edges.items])
    assert torch.autograd.gradcheck(lambda w, x: edges.to_users(w, x), (w, item_x))
    assert torch.autograd.gradcheck(lambda w, x: edges.to_items(w, x), (w, user_x))
    assert torch.autograd.gradcheck(lambda a, b: edges.scores(a, b), (user_x, item_x))
