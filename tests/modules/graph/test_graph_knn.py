"""Chunked kNN item graphs against hand-computed values.

Features (2-d): x0 = (1, 0), x1 = (1, 1), x2 = (-1, 2), x3 = (0, 0) (no features). With k = 2 (self included):
x0 -> {x0: 1, x1: 1/sqrt2}; x1 -> {x1: 1, x0: 1/sqrt2}; x2 -> {x2: 1, x1: 1/sqrt10}; x3 -> only itself.
"""

import math

import pytest
import torch

from missrec.modules.graph import knn, knn_item_graph, learned_knn_graph, mix_graphs, sym_normalise
from missrec.modules.graph.learned import RebuildSchedule

X = torch.tensor([[1.0, 0.0], [1.0, 1.0], [-1.0, 2.0], [0.0, 0.0]])
C01 = 1 / math.sqrt(2)
C21 = 1 / math.sqrt(10)


def test_unweighted_sym_graph_is_one_over_k():
    got = knn_item_graph(X, 2, weighted=False, norm="sym").to_dense()
    expected = torch.zeros(4, 4)
    expected[0, [0, 1]] = expected[1, [0, 1]] = expected[2, [1, 2]] = 0.5  # (2 * 2) ** -0.5
    expected[3, 3] = 1.0
    torch.testing.assert_close(got, expected)


def test_weighted_sym_graph_uses_row_degree_on_both_sides():
    d = [1 + C01, 1 + C01, 1 + C21, 1.0]
    expected = torch.zeros(4, 4)
    for i, j, v in [(0, 0, 1), (0, 1, C01), (1, 1, 1), (1, 0, C01), (2, 2, 1), (2, 1, C21), (3, 3, 1)]:
        expected[i, j] = v / math.sqrt(d[i] * d[j])
    torch.testing.assert_close(knn_item_graph(X, 2, weighted=True, norm="sym").to_dense(), expected)
    raw = torch.zeros(4, 4)
    for i, j, v in [(0, 0, 1), (0, 1, C01), (1, 1, 1), (1, 0, C01), (2, 2, 1), (2, 1, C21), (3, 3, 1)]:
        raw[i, j] = v
    torch.testing.assert_close(knn_item_graph(X, 2, weighted=True, norm="none").to_dense(), raw)


def test_similarity_is_computed_in_chunks_only(monkeypatch):
    seen = []
    original = knn._chunk_similarity

    def spy(rows, all_rows):
        out = original(rows, all_rows)
        seen.append(tuple(out.shape))
        return out

    monkeypatch.setattr(knn, "_chunk_similarity", spy)
    features = torch.randn(50, 8)
    chunked = knn_item_graph(features, 5, chunk_rows=7).to_dense()
    assert seen and all(rows <= 7 for rows, _ in seen) and len(seen) == 8  # ceil(50 / 7), never 50 x 50
    seen.clear()
    torch.testing.assert_close(chunked, knn_item_graph(features, 5).to_dense())


def test_k_larger_than_items_and_gradient_reaches_features():
    features = X[:3].clone().requires_grad_(True)
    graph = knn_item_graph(features, 10, weighted=True, norm="sym")
    assert graph._nnz() == 9
    graph.values().sum().backward()
    assert features.grad is not None and torch.isfinite(features.grad).all()


def test_mix_and_normalise():
    a = knn_item_graph(X, 2, weighted=False, norm="none")
    b = knn_item_graph(X, 1, weighted=False, norm="none")  # identity
    mixed = mix_graphs([a, b], [0.25, 0.75]).to_dense()
    assert mixed[0, 0] == 1.0 and mixed[0, 1] == 0.25 and mixed[3, 3] == 1.0
    normed = sym_normalise(a).to_dense()
    torch.testing.assert_close(normed, knn_item_graph(X, 2, weighted=False, norm="sym").to_dense())
    with pytest.raises(ValueError):
        mix_graphs([a], [0.5, 0.5])


def test_learned_graph_mixes_learned_and_frozen_with_gradient():
    h = X[:3].clone().requires_grad_(True)
    frozen = knn_item_graph(X[:3] + torch.tensor([0.0, 0.5]), 2, weighted=True, norm="sym")
    weights = torch.tensor([1.0], requires_grad=True)
    got = learned_knn_graph([h], [frozen], weights, 2, 0.9)
    learned = knn_item_graph(X[:3], 2, weighted=True, norm="sym")
    torch.testing.assert_close(got.detach().to_dense(), 0.1 * learned.to_dense() + 0.9 * frozen.to_dense())
    got.values().sum().backward()
    assert h.grad is not None and weights.grad is not None


def test_rebuild_schedule_builds_with_gradient_then_reuses_a_detached_copy():
    schedule = RebuildSchedule()
    w = torch.tensor(2.0, requires_grad=True)
    first = schedule.get(lambda: w * torch.ones(2))
    second = schedule.get(lambda: w * torch.ones(2))
    assert first.requires_grad and not second.requires_grad and schedule.builds == 1
    schedule.mark_stale()
    assert schedule.get(lambda: w * torch.ones(2)).requires_grad and schedule.builds == 2
