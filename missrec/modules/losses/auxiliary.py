"""Auxiliary networks with their own optimiser (MMSSL's discriminator, SEA's CLUB estimator; graph_models.md §9.2).

An auxiliary network lives inside the model (so ``.to(device)`` moves it and checkpoints hold it) but stays frozen
(``requires_grad=False``) except during its own optimiser step:

* the trainer builds the main optimiser from the parameters that require gradient, so the auxiliary parameters are
  never in it (and get no weight decay, no learning-rate schedule from it);
* the main loss still sends gradient *through* the frozen network to its inputs (a generator loss through the
  discriminator, a mutual-information bound through the estimator);
* its own step runs inside :func:`trainable`, typically from the model's ``calculate_loss`` or ``aux_step``.

:class:`AuxiliaryOptimizer` creates the optimiser lazily, at the first step, when the model is on its final device.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch import nn


def freeze(module: nn.Module) -> nn.Module:
    """Set ``requires_grad=False`` on every parameter of ``module``; returns it."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module


@contextlib.contextmanager
def trainable(module: nn.Module) -> Iterator[nn.Module]:
    """Unfreeze ``module`` for the body of the ``with`` block, and freeze it again afterwards (also on errors)."""
    for p in module.parameters():
        p.requires_grad_(True)
    try:
        yield module
    finally:
        freeze(module)


class AuxiliaryOptimizer:
    """A frozen auxiliary network and its own optimiser.

    Args:
        module: the auxiliary network (frozen here).
        build: ``params -> optimiser``, e.g. ``lambda ps: torch.optim.Adam(ps, lr=3e-4, betas=(0.5, 0.9))``.
    """

    def __init__(self, module: nn.Module, build: Callable[[list[nn.Parameter]], torch.optim.Optimizer]) -> None:
        self.module = freeze(module)
        self.build = build
        self.optimizer: torch.optim.Optimizer | None = None
        self.steps = 0

    def get(self) -> torch.optim.Optimizer:
        """The optimiser, built at the first call (use it inside :func:`trainable`)."""
        if self.optimizer is None:
            self.optimizer = self.build(list(self.module.parameters()))
        return self.optimizer

    def step(self, loss_fn: Callable[[], torch.Tensor]) -> torch.Tensor:
        """One optimiser step on ``loss_fn()`` (computed with the network unfrozen); returns the detached loss."""
        with trainable(self.module):
            optimizer = self.get()
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn()
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)  # nothing of this step lingers into the main step
        self.steps += 1
        return loss.detach()

    def state_dict(self) -> dict:
        """The optimiser's state (``None`` before its first step) and the step count, for a resumable run."""
        return {"optimizer": None if self.optimizer is None else self.optimizer.state_dict(), "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s output (the optimiser is built first when the saved one had stepped)."""
        self.steps = int(state["steps"])
        if state["optimizer"] is not None:
            self.get().load_state_dict(state["optimizer"])
