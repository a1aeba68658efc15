"""Sequence augmentations for contrastive pre-training (spec missrec.md §3.7, UniSRec §8.3), done right.

* **item drop**: each real item is dropped with probability ``ratio`` (the oldest item is always kept, as in the
  original); the kept items are compacted in their original order. Because every modality is looked up from the
  kept item ids, text, image and interests stay aligned. The original kept the wrong item of each dropped run
  (a CPU ``scatter`` with duplicate indices) and left the image stream un-dropped (misaligned).
* **word drop**: at each real position, with probability ``ratio``, the item's text feature is replaced by its
  word-dropped re-encoding (``.feat2CLS``); ids, other modalities and interests are unchanged.
"""

from __future__ import annotations

import torch


def item_drop(
    item_seq: torch.Tensor, lengths: torch.Tensor, ratio: float, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop items and compact the survivors.

    Args:
        item_seq: ``[B, L]`` ids, oldest first, right-padded with 0.
        lengths: ``[B]`` real items per row (>= 1).
        ratio: drop probability per item.
        generator: random generator on ``item_seq``'s device (default: the global one).

    Returns:
        ``([B, L], [B])``: the kept items, oldest first, right-padded, and their count (>= 1).
    """
    b, length = item_seq.shape
    positions = torch.arange(length, device=item_seq.device)
    real = positions < lengths.unsqueeze(1)  # [B, L]
    draw = torch.rand(b, length, device=item_seq.device, generator=generator)
    keep = real & ((draw >= ratio) | (positions == 0))
    # stable compaction: kept positions first, in order
    order = torch.where(keep, positions, positions + length).argsort(dim=1)
    new_lengths = keep.sum(1)
    compact = item_seq.gather(1, order)
    return torch.where(positions < new_lengths.unsqueeze(1), compact, 0), new_lengths


def word_drop_mask(
    lengths: torch.Tensor, length: int, ratio: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Positions ``[B, L]`` whose text feature is replaced by the word-dropped one (real positions only)."""
    positions = torch.arange(length, device=lengths.device)
    real = positions < lengths.unsqueeze(1)
    draw = torch.rand(lengths.shape[0], length, device=lengths.device, generator=generator)
    return real & (draw < ratio)
