"""Auxiliary networks: frozen outside their own step, out of the main optimiser, stepped by their own."""

import pytest
import torch
from torch import nn

from missrec.modules.losses.auxiliary import AuxiliaryOptimizer, freeze, trainable


class Host(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.encoder = nn.Linear(3, 2)
        self.critic = nn.Linear(2, 1)
        self.critic_optimizer = AuxiliaryOptimizer(self.critic, lambda ps: torch.optim.SGD(ps, lr=0.5))


def test_frozen_outside_its_step_and_unfrozen_inside():
    net = nn.Linear(2, 2)
    assert freeze(net) is net and not any(p.requires_grad for p in net.parameters())
    with trainable(net):
        assert all(p.requires_grad for p in net.parameters())
    assert not any(p.requires_grad for p in net.parameters())
    with pytest.raises(RuntimeError), trainable(net):
        raise RuntimeError("boom")
    assert not any(p.requires_grad for p in net.parameters())  # refrozen on errors too


def test_main_optimiser_excludes_it_and_the_main_loss_passes_through_it():
    host = Host()
    main = torch.optim.SGD([p for p in host.parameters() if p.requires_grad], lr=0.1)  # how the trainer builds it
    owned = {id(p) for g in main.param_groups for p in g["params"]}
    assert owned == {id(p) for p in host.encoder.parameters()}
    x = torch.ones(4, 3)
    host.critic(host.encoder(x)).sum().backward()
    assert host.encoder.weight.grad is not None and host.encoder.weight.grad.abs().sum() > 0
    assert host.critic.weight.grad is None


def test_its_own_step_by_hand():
    host = Host()
    assert host.critic_optimizer.optimizer is None  # built lazily, on the final device
    w0, b0 = host.critic.weight.clone(), host.critic.bias.clone()
    encoder0 = host.encoder.weight.clone()
    z = host.encoder(torch.ones(4, 3)).detach()  # [4, 2]
    loss = host.critic_optimizer.step(lambda: host.critic(z).mean())
    # d mean(w z + b) / dw = mean(z), / db = 1; SGD lr 0.5
    torch.testing.assert_close(host.critic.weight, w0 - 0.5 * z.mean(0, keepdim=True))
    torch.testing.assert_close(host.critic.bias, b0 - 0.5)
    torch.testing.assert_close(loss, (z @ w0.T + b0).mean())
    assert not loss.requires_grad and host.critic_optimizer.steps == 1
    assert all(p.grad is None and not p.requires_grad for p in host.critic.parameters())
    assert torch.equal(host.encoder.weight, encoder0)
    assert host.critic_optimizer.get() is host.critic_optimizer.optimizer
