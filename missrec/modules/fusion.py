"""User-adaptive fusion of per-modality candidate scores (MISSRec's "dynamic fusion", spec missrec.md §3.6)."""

from __future__ import annotations

import torch
from torch import nn

FUSION_MODES = ("static", "dynamic_shared", "dynamic_instance")


class ModalityFusion(nn.Module):
    """Fuse M per-modality cosine scores into one score per candidate.

    * ``static``: the mean over modalities.
    * ``dynamic_shared``: ``sum_m c_m * softmax_m(w * c_m)`` with one learned scalar ``w`` (init 0 = mean).
    * ``dynamic_instance``: the same with one ``w`` per item.

    The weights depend on the user through the scores themselves, hence "user-adaptive item representation".
    """

    def __init__(self, mode: str, n_items: int | None = None) -> None:
        super().__init__()
        if mode not in FUSION_MODES:
            raise ValueError(f"unknown item_mm_fusion '{mode}'; choose one of {FUSION_MODES}")
        self.mode = mode
        if mode == "dynamic_shared":
            self.fusion_factor = nn.Parameter(torch.zeros(()))
        elif mode == "dynamic_instance":
            if n_items is None:
                raise ValueError("dynamic_instance fusion needs n_items")
            self.fusion_factor = nn.Parameter(torch.zeros(n_items))

    def forward(self, scores: torch.Tensor, item_index: torch.Tensor | None = None) -> torch.Tensor:
        """Fuse ``scores`` ``[M, ..., N]`` -> ``[..., N]``.

        Args:
            scores: per-modality scores; the last dimension indexes candidate items.
            item_index: ``[N]`` item ids of the candidates (``dynamic_instance`` only; default: all items in order).
        """
        if self.mode == "static":
            return scores.mean(0)
        factor = self.fusion_factor
        if self.mode == "dynamic_instance" and item_index is not None:
            factor = factor[item_index]
        weights = torch.softmax(factor * scores, dim=0)
        return (weights * scores).sum(0)
