"""FREEDOM's degree-sensitive pruning: size, subset, reproducibility, and the sampling probabilities."""

import torch

from missrec.modules.graph import degree_sensitive_prune


def test_pruning_keeps_a_seeded_subset():
    users = torch.tensor([0, 0, 0, 1, 1, 2])
    items = torch.tensor([0, 1, 2, 1, 3, 3])
    keep_u, keep_i = degree_sensitive_prune(users, items, 3, 4, 0.5, torch.Generator().manual_seed(1))
    assert len(keep_u) == 3
    edges = set(zip(users.tolist(), items.tolist()))
    kept = list(zip(keep_u.tolist(), keep_i.tolist()))
    assert set(kept) <= edges and len(set(kept)) == 3
    again = degree_sensitive_prune(users, items, 3, 4, 0.5, torch.Generator().manual_seed(1))
    assert again[0].tolist() == keep_u.tolist()
    full = degree_sensitive_prune(users, items, 3, 4, 1.0)
    assert full[0] is users


def test_low_degree_edges_are_kept_more_often():
    # user 0 has 4 items (p = 1/sqrt(4 * 1) = 1/2 each); user 1 one item (p = 1): P(keep that edge | 1 of 5) = 1/3
    users = torch.tensor([0, 0, 0, 0, 1])
    items = torch.tensor([0, 1, 2, 3, 4])
    generator = torch.Generator().manual_seed(0)
    hits = sum(int(degree_sensitive_prune(users, items, 2, 5, 0.2, generator)[0][0] == 1) for _ in range(3000))
    assert abs(hits / 3000 - 1 / 3) < 0.03
