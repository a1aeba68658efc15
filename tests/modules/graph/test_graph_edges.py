"""Edge lists, PyG-SYM weights, index_add message passing and edge softmax on hand-computed graphs."""

import math

import torch

from missrec.modules.graph import bipartite_edge_index, edge_softmax, message_pass, pyg_sym_weight

USERS = torch.tensor([0, 0, 1])
ITEMS = torch.tensor([0, 1, 1])


def test_edge_index_directions():
    both = bipartite_edge_index(USERS, ITEMS, 2, 3)
    assert both.tolist() == [[0, 0, 1, 2, 3, 3], [2, 3, 3, 0, 0, 1]]
    assert bipartite_edge_index(USERS, ITEMS, 2, 3, "user_to_item").tolist() == [[0, 0, 1], [2, 3, 3]]
    assert bipartite_edge_index(USERS, ITEMS, 2, 3, "item_to_user").tolist() == [[2, 3, 3], [0, 0, 1]]


def test_pyg_sym_weight_removes_self_loops_and_uses_source_degree():
    edges = torch.cat([bipartite_edge_index(USERS, ITEMS, 2, 3), torch.tensor([[4], [4]])], 1)  # + a self-loop
    kept, weight = pyg_sym_weight(edges, 5)
    assert kept.shape[1] == 6
    deg = {0: 2, 1: 1, 2: 1, 3: 2}
    expected = [1 / math.sqrt(deg[s] * deg[t]) for s, t in kept.T.tolist()]
    torch.testing.assert_close(weight, torch.tensor(expected))


def test_message_pass_sums_weighted_sources_at_targets():
    edges = torch.tensor([[0, 2, 1], [1, 1, 0]])  # 0->1, 2->1, 1->0
    x = torch.tensor([[1.0], [10.0], [100.0]])
    out = message_pass(x, edges, torch.tensor([2.0, 1.0, 3.0]))
    assert out.flatten().tolist() == [30.0, 102.0, 0.0]
    assert message_pass(x, edges).flatten().tolist() == [10.0, 101.0, 0.0]


def test_edge_softmax_normalises_per_target():
    alpha = edge_softmax(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0, 0, 1]), 3)
    e = math.exp(1.0)
    torch.testing.assert_close(alpha, torch.tensor([1 / (1 + e), e / (1 + e), 1.0]))


def test_edge_softmax_is_stable_and_differentiable():
    scores = torch.tensor([1000.0, 1000.0], requires_grad=True)
    alpha = edge_softmax(scores, torch.tensor([0, 0]), 1)
    assert alpha.tolist() == [0.5, 0.5]
    (alpha[0] * 2).backward()
    assert torch.isfinite(scores.grad).all()
