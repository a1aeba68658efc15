"""Item-feature adaptors: map frozen item features (PLM / CLIP vectors) into the recommender's hidden space.

UniSRec's adaptor (spec missrec.md §8.1), in the paper's words:

* :class:`WhiteningExpert`, one parametric-whitening expert ``x~ = W (dropout(x) - b)``: ``b`` learnable, init 0;
  ``W`` without bias, init N(0, 0.02);
* :class:`MoEAdaptor`, ``v = sum_k g_k x~^(k)`` over ``n_exps`` experts, gated by
  ``g = softmax(x W_gate + eps * (softplus(x W_noise) + 0.01))``, ``eps ~ N(0, 1)`` in training only, ``W_gate`` and
  ``W_noise`` init 0 (so every expert starts with weight 1/n_exps). All experts are used: no top-k, despite the
  original's function name ``noisy_top_k_gating``.

The parameter names are the released UniSRec's (``experts.<k>.bias``, ``experts.<k>.lin.weight``, ``w_gate``,
``w_noise``), so the authors' ``moe_adaptor.*`` tensors load by name.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class WhiteningExpert(nn.Module):
    """One parametric-whitening expert ``x~ = W (dropout(x) - b)``.

    Args:
        input_size: feature dimension d (768 for BERT, 512 for CLIP).
        output_size: hidden size D.
        dropout: dropout on the input feature (UniSRec's ``adaptor_dropout_prob``, 0.2).
        initializer_range: std of the normal init of ``W``.
    """

    def __init__(
        self, input_size: int, output_size: int, dropout: float = 0.0, initializer_range: float = 0.02
    ) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.bias = nn.Parameter(torch.zeros(input_size))
        self.lin = nn.Linear(input_size, output_size, bias=False)
        nn.init.normal_(self.lin.weight, 0.0, initializer_range)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [..., d]`` -> ``[..., D]``."""
        return self.lin(self.dropout(x) - self.bias)


class MoEAdaptor(nn.Module):
    """Mixture of :class:`WhiteningExpert` s with a noisy softmax gate over the raw feature.

    Args:
        input_size: feature dimension d.
        output_size: hidden size D.
        n_exps: number of experts G (UniSRec: 8).
        dropout: per-expert input dropout (UniSRec: 0.2); each expert draws its own mask, as in the original.
        noise_epsilon: floor of the gate-noise standard deviation (0.01).
    """

    def __init__(
        self, input_size: int, output_size: int, n_exps: int = 8, dropout: float = 0.2, noise_epsilon: float = 0.01
    ) -> None:
        super().__init__()
        if n_exps < 1:
            raise ValueError(f"n_exps must be >= 1, got {n_exps}")
        self.noise_epsilon = noise_epsilon
        self.experts = nn.ModuleList(WhiteningExpert(input_size, output_size, dropout) for _ in range(n_exps))
        self.w_gate = nn.Parameter(torch.zeros(input_size, n_exps))
        self.w_noise = nn.Parameter(torch.zeros(input_size, n_exps))

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """Expert weights ``[..., G]`` (rows sum to 1) for features ``x [..., d]``; noisy only in training."""
        logits = x @ self.w_gate
        if self.training:
            noise_std = F.softplus(x @ self.w_noise) + self.noise_epsilon
            logits = logits + torch.randn_like(logits) * noise_std
        return torch.softmax(logits, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [..., d]`` -> ``v [..., D]``.

        Computed as ``sum_k g_k (W_k dropout_k(x) - W_k b_k)``, the same numbers as the experts' own forward up to
        rounding, at a fraction of the cost: the experts' products are one batched matmul, the bias is folded into
        ``W_k b_k [G, D]`` (so no ``[..., G, d]`` gradient is formed for it), and without dropout (evaluation) the G
        experts are one matmul. Each expert still draws its own dropout mask, from its own dropout module.
        """
        lead, d = x.shape[:-1], x.shape[-1]
        flat = x.reshape(-1, d)  # [N, d]
        gates = self.gates(flat)  # [N, G]
        weight = torch.stack([expert.lin.weight for expert in self.experts])  # [G, D, d]
        bias = torch.stack([expert.bias for expert in self.experts])  # [G, d]
        shift = torch.einsum("gcd,gd->gc", weight, bias)  # [G, D]: W_k b_k
        n_exps, out_size = weight.shape[0], weight.shape[1]
        if self.training and any(expert.dropout.p > 0 for expert in self.experts):
            if len({(type(e.dropout), e.dropout.p) for e in self.experts}) == 1:
                dropped = self.experts[0].dropout(flat.expand(n_exps, *flat.shape))  # [G, N, d]: G masks
            else:
                dropped = torch.stack([expert.dropout(flat) for expert in self.experts])
            outputs = torch.bmm(dropped, weight.transpose(1, 2))  # [G, N, D]
        else:
            outputs = (flat @ weight.reshape(-1, d).T).view(-1, n_exps, out_size).transpose(0, 1)  # [G, N, D]
        mixed = (outputs * gates.T.unsqueeze(-1)).sum(dim=0) - gates @ shift  # [N, D]
        return mixed.view(*lead, out_size)
