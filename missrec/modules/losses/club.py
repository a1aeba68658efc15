"""CLUB: the sampled contrastive log-ratio upper bound of mutual information (SEA, graph_models.md §4.10).

``q(y|x) = N(mu(x), diag(exp(logvar(x))))`` with two small MLPs. The bound compares the log-likelihood of the
paired sample with that of a randomly permuted one:

    I(x; y) <= mean_i [ log q(y_i | x_i) - log q(y_pi(i) | x_i) ]
             = 1/2 mean_i sum_d [ -(mu_i - y_i)^2 + (mu_i - y_pi(i))^2 ] / exp(logvar_i)

(the released ``CLUBSample.forward``: squared errors without the 1/2, then halved). The estimator itself is trained
separately by maximising ``loglikeli`` on detached pairs (:func:`club_estimator_step`, SEA's 50 inner steps per
batch, run from a model's ``aux_step``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class CLUBSample(nn.Module):
    """Variational network and MI upper bound.

    Args:
        x_dim: dimension of x.
        y_dim: dimension of y.
        hidden_size: the MLPs' hidden width is ``hidden_size // 2`` (CLUB's convention; SEA: 16 -> 8).
    """

    def __init__(self, x_dim: int, y_dim: int, hidden_size: int) -> None:
        super().__init__()
        hidden = max(1, hidden_size // 2)
        self.p_mu = nn.Sequential(nn.Linear(x_dim, hidden), nn.ReLU(), nn.Linear(hidden, y_dim))
        self.p_logvar = nn.Sequential(nn.Linear(x_dim, hidden), nn.ReLU(), nn.Linear(hidden, y_dim), nn.Tanh())

    def mu_logvar(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu [N, y_dim], logvar [N, y_dim])`` for ``x [N, x_dim]``."""
        return self.p_mu(x), self.p_logvar(x)

    def loglikeli(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """CLUB's training objective ``mean_i sum_d [-(mu - y)^2 / exp(logvar) - logvar]`` (2x the log-density)."""
        mu, logvar = self.mu_logvar(x)
        return (-(mu - y) ** 2 / logvar.exp() - logvar).sum(1).mean()

    def learning_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Loss of the estimator's own optimiser: ``-loglikeli``."""
        return -self.loglikeli(x, y)

    def forward(
        self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None, nonnegative: bool = True
    ) -> torch.Tensor:
        """MI upper bound between paired rows of ``x [N, x_dim]`` and ``y [N, y_dim]``.

        Args:
            generator: for the random permutation (on ``x``'s device); ``None`` uses the global RNG.
            nonnegative: clamp the estimate at 0 (SEA, graph_models.md §4.10).
        """
        mu, logvar = self.mu_logvar(x)
        perm = torch.randperm(x.shape[0], generator=generator, device=x.device if generator is None else generator.device)
        perm = perm.to(x.device)
        positive = -((mu - y) ** 2) / logvar.exp()
        negative = -((mu - y[perm]) ** 2) / logvar.exp()
        bound = (positive.sum(1) - negative.sum(1)).mean() / 2.0
        return bound.clamp(min=0.0) if nonnegative else bound


def club_estimator_step(
    club: CLUBSample,
    optimizer: torch.optim.Optimizer,
    pairs: Sequence[tuple[torch.Tensor, torch.Tensor]],
    steps: int,
) -> float:
    """Train the estimator ``steps`` times on detached ``(x, y)`` pairs (losses of all pairs summed per step).

    Returns:
        The last step's loss.
    """
    pairs = [(x.detach(), y.detach()) for x, y in pairs]
    loss = torch.zeros(())
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        loss = sum(club.learning_loss(x, y) for x, y in pairs)
        loss.backward()
        optimizer.step()
    return float(loss.detach())
