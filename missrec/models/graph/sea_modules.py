"""SEA's per-modality networks (graph_models.md §4.10): the modality GCN and the alignment projection head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from missrec.modules.graph import propagate


class ModalityGCN(nn.Module):
    """DualGNN/MMGCN-style GCN of one modality on the user-item graph (§4.10 step 4).

    ``f = W_2 LeakyReLU(W_1 h)`` maps the item features to d; ``x = norm([P; f])`` stacks a trainable user
    preference ``P [U, d]`` (xavier-normal) on top; ``rep = x + A x + A^2 x`` (sum over ``n_layers`` hops of the
    PyG-SYM graph ``A``).

    Args:
        feat_dim: d_m, width of the modality's item features.
        dim: latent size d (the hidden layer is 4d, as DualGNN).
        n_users: U.
        n_layers: hops (2 in the released code).
    """

    def __init__(self, feat_dim: int, dim: int, n_users: int, n_layers: int = 2) -> None:
        super().__init__()
        self.n_layers = n_layers
        self.preference = nn.Parameter(nn.init.xavier_normal_(torch.empty(n_users, dim)))
        self.mlp_in = nn.Linear(feat_dim, 4 * dim)
        self.mlp_out = nn.Linear(4 * dim, dim)

    def forward(self, item_features: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        """Representations ``[U+I, d]`` (users first) from ``item_features [I, d_m]`` and ``adj [U+I, U+I]``.

        ``adj`` must be symmetric (PyG-SYM on a bidirectional edge list is): it serves as its own transpose.
        """
        f = self.mlp_out(F.leaky_relu(self.mlp_in(item_features)))  # [I, d]
        x = F.normalize(torch.cat([self.preference, f], 0), dim=1)  # [U+I, d]
        return propagate(adj, x, self.n_layers, "sum", adj_t=adj)


class ProjectionHead(nn.Module):
    """``Linear(in, h), BN, ReLU, Linear(h, h), BN, ReLU, Linear(h, out)`` (§4.10 step 3; h = 64, out = 32)."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden_dim),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, hidden_dim),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, out_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, in_dim]`` -> L2-normalised ``[N, out_dim]``."""
        return F.normalize(self.net(x), dim=1)
