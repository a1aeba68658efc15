"""Fast CPU dropout: the same distribution as torch's dropout, and attention that equals torch's up to the mask."""

import pytest
import torch
from torch import nn

from missrec.modules import fast_dropout
from missrec.modules.fast_dropout import FastDropout, FastDropoutAttention, dropout, use_fast_dropout


def test_dropout_keeps_each_element_with_probability_one_minus_p_and_rescales():
    torch.manual_seed(0)
    x = torch.rand(1_000_000) + 1.0
    for p in (0.1, 0.5, 0.8):
        out = dropout(x, p)
        kept = out != 0
        assert kept.float().mean().item() == pytest.approx(1 - p, abs=3e-3)
        assert torch.allclose(out[kept], x[kept] / (1 - p))
        assert out.mean().item() == pytest.approx(x.mean().item(), rel=5e-3)  # unbiased, as inverted dropout
    assert dropout(x, 0.5, training=False) is x and dropout(x, 0.0) is x


def test_dropout_gradient_is_the_mask_times_the_scale():
    x = torch.randn(1000, requires_grad=True)
    out = dropout(x, 0.5)
    out.sum().backward()
    assert torch.equal(x.grad, (out.detach() != 0).float() * 2.0)


def test_masks_follow_torch_seed_and_rng_state():
    x = torch.ones(10_000)
    torch.manual_seed(5)
    first, second = dropout(x, 0.5), dropout(x, 0.5)
    assert not torch.equal(first, second)  # a fresh mask every call
    torch.manual_seed(5)
    assert torch.equal(dropout(x, 0.5), first)
    state = torch.get_rng_state()
    again = dropout(x.clone().requires_grad_(), 0.5)  # the autograd branch draws the same mask
    torch.set_rng_state(state)
    assert torch.equal(again.detach(), dropout(x, 0.5)) and torch.equal(again.detach(), second)


def test_other_dtypes_use_torch_dropout(monkeypatch):
    calls = []
    monkeypatch.setattr(fast_dropout.F, "dropout", lambda x, p, training: calls.append(x.dtype) or x)
    dropout(torch.ones(4, dtype=torch.float64), 0.5)
    assert calls == [torch.float64]


def reference_pair(dim: int = 16, heads: int = 4, p: float = 0.3):
    torch.manual_seed(0)
    ours = FastDropoutAttention(dim, heads, dropout=p, batch_first=True)
    theirs = nn.MultiheadAttention(dim, heads, dropout=0.0, batch_first=True)
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


@pytest.mark.parametrize("mask_kind", ["none", "bool", "float"])
@pytest.mark.parametrize("cross", [False, True])
def test_attention_training_path_equals_torch_without_the_dropout(mask_kind, cross, monkeypatch):
    calls = []
    monkeypatch.setattr(fast_dropout, "dropout", lambda x, p, training=True: calls.append(p) or x)
    ours, theirs = reference_pair()
    query = torch.randn(5, 7, 16)
    memory = torch.randn(5, 9, 16) if cross else query
    pad = torch.zeros(5, memory.shape[1], dtype=torch.bool)
    pad[:, -3:] = True
    mask = {"none": None, "bool": pad, "float": torch.zeros(pad.shape).masked_fill(pad, float("-inf"))}[mask_kind]
    got, _ = ours(query, memory, memory, key_padding_mask=mask, need_weights=False)
    want, _ = theirs(query, memory, memory, key_padding_mask=mask, need_weights=False)
    assert calls == [0.3]  # our path ran, dropping attention weights at the module's rate
    assert torch.allclose(got, want, atol=1e-6)
    got.sum().backward()
    want.sum().backward()
    assert torch.allclose(ours.in_proj_weight.grad, theirs.in_proj_weight.grad, atol=1e-5)


def test_evaluation_is_torch_own_forward():
    ours, theirs = reference_pair()
    ours.eval(), theirs.eval()
    x = torch.randn(3, 6, 16)
    assert torch.equal(ours(x, x, x, need_weights=False)[0], theirs(x, x, x, need_weights=False)[0])


def test_use_fast_dropout_swaps_classes_and_keeps_the_state_dict():
    net = nn.Transformer(d_model=16, nhead=4, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=32,
                         dropout=0.5, batch_first=True)
    keys = {k: v.clone() for k, v in net.state_dict().items()}
    use_fast_dropout(net)
    assert not any(type(m) in (nn.Dropout, nn.MultiheadAttention) for m in net.modules())
    assert sum(isinstance(m, FastDropout) for m in net.modules()) == 7
    assert all(torch.equal(keys[k], v) for k, v in net.state_dict().items()) and keys.keys() == net.state_dict().keys()
    net.train()
    src, tgt = torch.randn(4, 5, 16), torch.randn(4, 6, 16)
    out = net(src, tgt, src_key_padding_mask=torch.tensor([[False] * 4 + [True]] * 4))
    assert torch.isfinite(out).all()
