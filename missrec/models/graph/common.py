"""Helpers the graph model files share: modality mixing weights and training-graph tensors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from missrec.data.general.dataset import GeneralDataset
from missrec.errors import ConfigError


def resolve_modality_weights(spec: Mapping[str, float] | None, names: Sequence[str]) -> list[float]:
    """Mixing weights for the dataset's modalities, renormalised to sum to 1.

    Args:
        spec: ``{modality: weight}`` (FREEDOM/SEA: ``{image: 0.1, text: 0.9}``); entries for modalities the dataset
            lacks are ignored; ``None`` means equal weights.
        names: the dataset's modalities, in order.

    Every modality of the dataset must have a weight when ``spec`` is given (one clear error otherwise).
    """
    if not names:
        raise ConfigError("no modality to weight")
    if spec is None:
        return [1.0 / len(names)] * len(names)
    if not isinstance(spec, Mapping):
        raise ConfigError(f"modality_weights must be a mapping {{modality: weight}} or ~, found {spec!r}")
    missing = [n for n in names if n not in spec]
    if missing:
        raise ConfigError(
            f"modality_weights {dict(spec)} has no weight for modalities {missing} of this dataset. "
            f"Fix: e.g. modality_weights={{{', '.join(f'{n}: {1 / len(names):.2f}' for n in names)}}}"
        )
    weights = [float(spec[n]) for n in names]
    total = sum(weights)
    if total <= 0 or any(w < 0 for w in weights):
        raise ConfigError(f"modality_weights must be non-negative with a positive sum, found {dict(spec)}")
    return [w / total for w in weights]


def train_edges(dataset: GeneralDataset, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(users [E], items [E])`` of the training split on ``device``."""
    users, items = dataset.pairs("train")
    return users.to(device), items.to(device)
