"""FREEDOM's degree-sensitive edge pruning of the user-item graph (graph_models.md §4.6)."""

from __future__ import annotations

import torch


def degree_sensitive_prune(
    users: torch.Tensor,
    items: torch.Tensor,
    n_users: int,
    n_items: int,
    keep_ratio: float,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``floor(keep_ratio * E)`` edges without replacement with probability ``∝ 1/sqrt(d_u d_i)``.

    Edges between high-degree nodes are dropped more often. Build the pruned adjacency with
    ``bipartite_adj(kept_users, kept_items, U, I, "sym")`` (degrees of the kept graph, as FREEDOM does).

    Args:
        users, items: ``[E]`` deduplicated training interactions (on the generator's device).
        n_users, n_items: U, I.
        keep_ratio: ``1 - dropout``, in ``(0, 1]``; 1 keeps every edge.
        generator: seeded generator for a reproducible sample.

    Returns:
        ``(users [E'], items [E'])`` kept edges, in sampled order.
    """
    if not 0.0 < keep_ratio <= 1.0:
        raise ValueError(f"keep_ratio must be in (0, 1], got {keep_ratio}")
    if keep_ratio == 1.0:
        return users, items
    deg_u = torch.bincount(users, minlength=n_users).float() + 1e-7
    deg_i = torch.bincount(items, minlength=n_items).float() + 1e-7
    weight = deg_u[users].pow(-0.5) * deg_i[items].pow(-0.5)  # [E]
    n_keep = max(1, int(users.numel() * keep_ratio))
    kept = torch.multinomial(weight, n_keep, replacement=False, generator=generator)
    return users[kept], items[kept]
