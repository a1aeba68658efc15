"""WGAN-GP gradient penalty (MMSSL's discriminator, graph_models.md §4.9 step 3)."""

from __future__ import annotations

from collections.abc import Callable

import torch


def gradient_penalty(
    discriminator: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``mean_i (||grad_x D(x_hat_i)||_2 - 1)^2`` at ``x_hat = a real + (1 - a) fake``, ``a ~ U(0, 1)`` per row.

    Multiply by MMSSL's 0.3 (and ``gp_rate``) outside. ``real``/``fake`` are ``[B, n]``; the graph is kept
    (``create_graph=True``) so the penalty trains the discriminator.
    """
    alpha = torch.rand(real.shape[0], 1, generator=generator, device=real.device if generator is None else generator.device)
    alpha = alpha.to(real.device)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = discriminator(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return ((grad.norm(2, dim=1) - 1) ** 2).mean()
