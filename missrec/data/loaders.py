"""Batch loader that keeps a whole split on the training device and gathers batches by index.

RecBole's loaders build every batch on the host in ``collate_fn``; for sequential models whose step is a few
milliseconds on a GPU that becomes the bottleneck (spec ecosystem §5.2). A split's tensors (histories, lengths,
targets: a few MB) are moved to the device once; a batch is then one index gather per field.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from recbole.data.interaction import Interaction


class DeviceBatchLoader:
    """Iterate an :class:`Interaction` table in batches of ``batch_size`` rows, on ``device``.

    Args:
        interaction: the split (``dataset.inter_feat``), ``N`` rows.
        batch_size: rows per batch; the last partial batch is kept.
        shuffle: reshuffle every epoch with a generator seeded by ``(seed, epoch)``, so an epoch's order is
            reproducible and independent of the device.
        device: where batches live.
        seed: base seed of the shuffling.
    """

    def __init__(
        self,
        interaction: Interaction,
        batch_size: int,
        shuffle: bool,
        device: torch.device | str,
        seed: int = 0,
    ) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.device = torch.device(device)
        self.fields = {k: v.to(self.device) for k, v in interaction.interaction.items()}
        self.num_rows = len(interaction)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return (self.num_rows + self.batch_size - 1) // self.batch_size

    def set_epoch(self, epoch: int) -> None:
        """Select the shuffling order of ``epoch``."""
        self.epoch = epoch

    def order(self) -> torch.Tensor:
        """Row order of the current epoch ``[N]`` on the device."""
        if not self.shuffle:
            return torch.arange(self.num_rows, device=self.device)
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return torch.randperm(self.num_rows, generator=generator).to(self.device)

    def __iter__(self) -> Iterator[Interaction]:
        order = self.order()
        for start in range(0, self.num_rows, self.batch_size):
            index = order[start : start + self.batch_size]
            yield Interaction({k: v[index] for k, v in self.fields.items()})
