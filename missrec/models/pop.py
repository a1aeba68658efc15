"""Most-popular baseline: every user gets the same ranking, the items by how often they are a training target.

The floor any personalised model must clear, and the reference a zero-shot transfer is read against. It has no
weights to learn: the counts come from the training split when the model is built (a buffer, saved with the
checkpoint), and the one fine-tuning epoch it runs changes nothing (its loss is a constant zero). Transductive only:
it ranks item IDs. RecBole's ``Pop`` is not used: it counts in ``calculate_loss`` with an indexed assignment that
adds one per batch to an item appearing several times in it, and keeps the counts outside the state dict.
"""

from __future__ import annotations

import torch
from recbole.model.abstract_recommender import SequentialRecommender
from recbole.utils import InputType
from torch import nn

from missrec.registry import register_model


@register_model("Pop", kind="sequential", modes=("transductive",))
class Pop(SequentialRecommender):
    """``score(u, i) = count(i)``: the times item ``i`` is the target of a training row."""

    input_type = InputType.POINTWISE

    def __init__(self, config, dataset) -> None:
        super().__init__(config, dataset)
        targets = torch.as_tensor(dataset.inter_feat[self.POS_ITEM_ID]).long()
        self.register_buffer("item_count", torch.bincount(targets, minlength=self.n_items).float())  # [N]
        self.unused = nn.Parameter(torch.zeros(1))  # the trainer's optimiser needs one parameter

    def calculate_loss(self, interaction) -> torch.Tensor:
        """A constant zero (with a gradient path, for the trainer): there is nothing to learn."""
        return self.unused.sum() * 0.0

    def full_sort_predict(self, interaction) -> torch.Tensor:
        """``[B, N]``: the item counts, the same row for every user."""
        return self.item_count.repeat(len(interaction[self.ITEM_SEQ]), 1)  # a copy: evaluators write into scores
