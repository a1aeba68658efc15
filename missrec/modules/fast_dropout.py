"""Dropout for CPU training with the keep-mask drawn from fast uniforms instead of torch's ``bernoulli_``.

On CPU, torch's dropout draws its mask with ``bernoulli_``, several times slower than drawing uniforms
(``benchmarks/dropout_cpu.py``): with MISSRec's dropout of 0.5 on every transformer sub-layer and on the attention
weights it took about a third of a training step. Here the float32 uniforms come from numpy's SFC64 generator
(about 2.5x faster than ``torch.rand`` on one core), seeded by one draw from torch's default generator, so
``torch.manual_seed`` and a saved torch RNG state reproduce every mask. The distribution is torch's — every element
is kept independently with probability ``1 - p`` and scaled by ``1 / (1 - p)`` — only the random stream differs. On
other devices, for other dtypes, and in evaluation, these modules are torch's own.

:func:`use_fast_dropout` swaps, in place, the ``nn.Dropout`` modules of a network for :class:`FastDropout` and its
``nn.MultiheadAttention`` modules for :class:`FastDropoutAttention` (same parameters, same state-dict keys).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def uniform(shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
    """float32 uniforms on ``[0, 1)`` of ``shape`` (CPU) from numpy's SFC64 generator, seeded by one draw from
    torch's default generator: reproducible under ``torch.manual_seed`` and restored with torch's RNG state."""
    seed = int(torch.randint(0, 2**62, (1,)).item())
    return torch.from_numpy(np.random.Generator(np.random.SFC64(seed)).random(tuple(shape), dtype=np.float32))


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """``F.dropout(x, p, training)`` with the CPU float32 mask drawn by :func:`uniform`: each element kept with
    probability ``1 - p`` (``u >= p``) and scaled by ``1 / (1 - p)``."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu" or p >= 1.0 or x.dtype != torch.float32:
        return F.dropout(x, p, True)
    scale = uniform(x.shape).ge_(p).mul_(1.0 / (1.0 - p))  # 0 or 1 / (1 - p), in place: no mask copies
    return x * scale if x.requires_grad else scale.mul_(x)


class FastDropout(nn.Dropout):
    """``nn.Dropout`` computed by :func:`dropout`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)


class FastDropoutAttention(nn.MultiheadAttention):
    """``nn.MultiheadAttention`` whose CPU training forward applies :func:`dropout` to the attention weights.

    The training path covers what transformer layers ask for — batch-first inputs, one packed q/k/v projection, a
    key-padding mask (boolean, or additive float as ``nn.TransformerEncoder`` passes it), no attention mask, no
    returned weights — and computes
    ``softmax(q k^T / sqrt(d) + mask) v`` per head as torch's math path does; anything else (evaluation, other
    devices, other masks) is torch's own forward.
    """

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        if (not self.training or self.dropout == 0.0 or query.device.type != "cpu" or need_weights
                or attn_mask is not None or is_causal or not self.batch_first or not self._qkv_same_embed_dim
                or self.bias_k is not None or self.add_zero_attn
                or (key_padding_mask is not None and key_padding_mask.dtype not in (torch.bool, query.dtype))
                or key is not value):
            return super().forward(query, key, value, key_padding_mask=key_padding_mask, need_weights=need_weights,
                                   attn_mask=attn_mask, average_attn_weights=average_attn_weights, is_causal=is_causal)
        batch, q_len, dim = query.shape
        heads, head_dim = self.num_heads, dim // self.num_heads
        weight, bias = self.in_proj_weight, self.in_proj_bias
        if query is key:
            q, k, v = F.linear(query, weight, bias).chunk(3, dim=-1)
        else:
            w_q, w_kv = weight.split([dim, 2 * dim])
            b_q, b_kv = bias.split([dim, 2 * dim]) if bias is not None else (None, None)
            q = F.linear(query, w_q, b_q)
            k, v = F.linear(key, w_kv, b_kv).chunk(2, dim=-1)

        def split_heads(t: torch.Tensor) -> torch.Tensor:  # [B, L, D] -> [B, h, L, d]
            return t.reshape(batch, -1, heads, head_dim).transpose(1, 2)

        scores = split_heads(q) @ split_heads(k).transpose(-2, -1) * head_dim**-0.5  # [B, h, Lq, Lk]
        if key_padding_mask is not None and key_padding_mask.dtype == torch.bool:
            scores = scores.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
        elif key_padding_mask is not None:
            scores = scores + key_padding_mask[:, None, None, :]
        weights = dropout(scores.softmax(dim=-1), self.dropout, True)
        out = (weights @ split_heads(v)).transpose(1, 2).reshape(batch, q_len, dim)
        return self.out_proj(out), None


def use_fast_dropout(module: nn.Module) -> nn.Module:
    """Swap every ``nn.Dropout`` / ``nn.MultiheadAttention`` inside ``module`` for the fast-dropout classes, in
    place (parameters, buffers and state-dict keys unchanged); returns ``module``."""
    for sub in module.modules():
        if type(sub) is nn.Dropout:
            sub.__class__ = FastDropout
        elif type(sub) is nn.MultiheadAttention:
            sub.__class__ = FastDropoutAttention
    return module
