"""GRCN's parameter-free dot-product attention layer on a hand-computed bipartite graph."""

import math

import torch

from missrec.modules.graph import bipartite_edge_index
from missrec.modules.graph.attention import dot_attention_conv

# two users (nodes 0, 1), two items (nodes 2, 3); user 0 has both items, user 1 has item 1
USERS = torch.tensor([0, 0, 1])
ITEMS = torch.tensor([0, 1, 1])
X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 1.0]])


def test_users_attend_over_their_items_on_item_to_user_edges():
    edges = bipartite_edge_index(USERS, ITEMS, 2, 2, "item_to_user")  # 2->0, 3->0, 3->1
    out, alpha = dot_attention_conv(X, edges)
    # user 0: scores <x0, x2> = 2, <x0, x3> = 0 -> softmax (e^2, 1) / (e^2 + 1)
    a = math.exp(2) / (math.exp(2) + 1)
    torch.testing.assert_close(alpha, torch.tensor([a, 1 - a, 1.0]))
    torch.testing.assert_close(out[0], a * X[2] + (1 - a) * X[3])
    torch.testing.assert_close(out[1], X[3])
    assert out[2:].abs().sum() == 0  # items receive nothing on this list


def test_user_to_item_edges_give_users_no_message():
    edges = bipartite_edge_index(USERS, ITEMS, 2, 2, "user_to_item")  # 0->2, 0->3, 1->3
    out, alpha = dot_attention_conv(X, edges)
    assert out[:2].abs().sum() == 0  # graph_models.md §4.8: the released routing is a no-op
    # item 1 (node 3): scores <x3, x0> = 0, <x3, x1> = 1
    b = math.exp(1) / (math.exp(1) + 1)
    torch.testing.assert_close(alpha, torch.tensor([1.0, 1 - b, b]))
    torch.testing.assert_close(out[3], (1 - b) * X[0] + b * X[1])


def test_gradient_reaches_sources_and_targets():
    x = X.clone().requires_grad_(True)
    out, _ = dot_attention_conv(x, bipartite_edge_index(USERS, ITEMS, 2, 2, "both"))
    out.sum().backward()
    assert torch.isfinite(x.grad).all() and (x.grad.abs().sum(1) > 0).all()
