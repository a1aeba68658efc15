"""MMSSL's cross-modal attention and discriminator (graph_models.md §4.9).

Both follow the paper where the released code departs from it (§8.2 b, c):

* :class:`ModalityAttention` is a real multi-head self-attention over the modality axis: per node, queries, keys and
  values are linear maps of the M modality-specific embeddings, the softmax runs over the key modalities and
  weighs the values of the key modalities. The released code takes K from Q (``w_k`` unused), uses no value map and
  multiplies the weights by the *query* modality's value after softmaxing over the key axis, so every head returns V
  and the block collapses to one linear map (§4.9 step 4).
* :class:`Discriminator` uses ``LeakyReLU(negative_slope)``; the released ``nn.LeakyReLU(True)`` passes ``True`` as
  the slope (meant as ``inplace=True``), i.e. slope 1 and an identity activation. The paper's intent is PyTorch's
  default slope 0.01; ``negative_slope=1.0`` reproduces the released network.

The discriminator's widths ``I -> I/4 -> I/8`` come from the released code (§4.9); the paper does not fix them. Its
first layer alone has ``I^2 / 4`` weights, so with its gradient and Adam state the critic needs about
``4.5 I^2`` bytes: 18 GB at Elec's 63k items, 22.6 GB for a whole critic step (benchmarks/RESULTS.md, "MMSSL's
discriminator"). ``max_width`` caps the hidden widths at ``(max_width, max_width / 2)``: off (``None``) by default,
which keeps the released network.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

DISCRIMINATOR_SCALE = 100.0  # D(x) = 100 sigma(net(x)), as released


class ModalityAttention(nn.Module):
    """Multi-head self-attention across modalities, then an output map (the released ``w_self_attention_cat``).

    Args:
        dim: embedding size d (divisible by ``n_heads``).
        n_heads: H (``head_num`` = 4).
    """

    def __init__(self, dim: int, n_heads: int) -> None:
        super().__init__()
        if dim % n_heads != 0:
            raise ValueError(f"embedding size {dim} must be divisible by head_num {n_heads}")
        self.n_heads = n_heads
        self.w_q = nn.Linear(dim, dim, bias=False)
        self.w_k = nn.Linear(dim, dim, bias=False)
        self.w_v = nn.Linear(dim, dim, bias=False)
        self.w_o = nn.Linear(dim, dim, bias=False)
        for layer in (self.w_q, self.w_k, self.w_v, self.w_o):
            nn.init.xavier_uniform_(layer.weight)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend across the modality axis.

        Args:
            x: ``[M, N, d]`` modality-specific embeddings of N nodes.

        Returns:
            ``(out [M, N, d], weights [N, H, M, M])``; ``weights[n, h, m, k]`` is how much modality m of node n
            attends to modality k in head h (rows sum to 1).
        """
        m, n, d = x.shape
        dh = d // self.n_heads
        q = self.w_q(x).view(m, n, self.n_heads, dh)
        k = self.w_k(x).view(m, n, self.n_heads, dh)
        v = self.w_v(x).view(m, n, self.n_heads, dh)
        scores = torch.einsum("mnhe,knhe->nhmk", q, k) / math.sqrt(dh)  # [N, H, M, M]
        weights = torch.softmax(scores, dim=-1)  # over the key modalities
        z = torch.einsum("nhmk,knhe->mnhe", weights, v).reshape(m, n, d)  # heads concatenated
        return self.w_o(z), weights


def critic_adam(lr: float, betas: tuple[float, float]) -> Callable[[list[nn.Parameter]], torch.optim.Optimizer]:
    """The discriminator's own Adam (``D_lr``, ``D_betas``), fused: the critic is the largest network here
    (``0.28 I^2`` weights), and the fused step needs no parameter-sized temporaries on top of its two moments."""
    return lambda params: torch.optim.Adam(
        params, lr=lr, betas=betas, fused=all(p.device.type in ("cpu", "cuda") for p in params) or None
    )


def discriminator_widths(n_items: int, max_width: int | None = None) -> list[int]:
    """``[I, I/4, I/8]`` (released), each hidden width capped at ``(max_width, max_width / 2)`` when given."""
    hidden = [max(1, n_items // 4), max(1, n_items // 8)]
    if max_width is not None:
        hidden = [min(hidden[0], max_width), min(hidden[1], max_width // 2)]
    return [n_items, *hidden]


class Discriminator(nn.Module):
    """WGAN critic over per-user item distributions: ``I -> I/4 -> I/8 -> 1``, output ``100 sigma(.)``.

    Each hidden block is Linear, LeakyReLU, BatchNorm1d, Dropout (the released order); Linear layers use
    kaiming-normal weights and zero biases.

    Args:
        n_items: input width I.
        negative_slope: LeakyReLU slope (paper intent 0.01; 1.0 = the released identity, see the module doc).
        dropouts: dropout of the two hidden blocks (0.31, 0.5).
        max_width: cap on the hidden widths: ``I -> min(I/4, w) -> min(I/8, w/2)``; None = the released widths.
    """

    def __init__(
        self,
        n_items: int,
        negative_slope: float = 0.01,
        dropouts: Sequence[float] = (0.31, 0.5),
        max_width: int | None = None,
    ) -> None:
        super().__init__()
        if len(dropouts) != 2:
            raise ValueError(f"expected two discriminator dropouts, found {list(dropouts)}")
        if max_width is not None and max_width < 2:
            raise ValueError(f"the discriminator's max_width must be >= 2 (or None), found {max_width}")
        widths = discriminator_widths(n_items, max_width)
        layers: list[nn.Module] = []
        for (d_in, d_out), p in zip(zip(widths[:-1], widths[1:], strict=True), dropouts, strict=True):
            layers += [nn.Linear(d_in, d_out), nn.LeakyReLU(negative_slope), nn.BatchNorm1d(d_out), nn.Dropout(p)]
        layers.append(nn.Linear(widths[-1], 1))
        self.net = nn.Sequential(*layers)
        for layer in self.net:
            if isinstance(layer, nn.Linear):
                nn.init.kaiming_normal_(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, I]`` -> ``[N]`` critic values in ``(0, 100)``."""
        return DISCRIMINATOR_SCALE * torch.sigmoid(self.net(x.float())).view(-1)
