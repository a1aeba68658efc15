"""BPR-MF (UAI'09), as MMRec's ``bpr.py`` (graph_models.md §4.1): the matrix-factorisation baseline.

``s_ui = e_u . e_i``; loss ``-mean log(1e-10 + sigma(s_ui - s_uj)) + reg_weight * EmbLoss(e_u, e_i, e_j)`` with
MMRec's non-squared EmbLoss (``l2_regulariser(style="frobenius")``). Uses no modality.
"""

from __future__ import annotations

import torch
from torch import nn

from missrec.data.general.dataset import GeneralDataset
from missrec.models.graph.base import GraphRecommender
from missrec.modules.losses import bpr_loss, l2_regulariser
from missrec.registry import register_model


@register_model("BPR", kind="general")
class BPR(GraphRecommender):
    """Matrix factorisation trained with BPR.

    Args:
        config: ``embedding_size``, ``reg_weight`` (+ the base keys).
        dataset: the general dataset.
    """

    def __init__(self, config, dataset: GeneralDataset) -> None:
        super().__init__(config, dataset)
        self.reg_weight = float(config["reg_weight"])
        self.user_embedding = nn.Embedding(self.n_users, self.embedding_size)
        self.item_embedding = nn.Embedding(self.n_items, self.embedding_size)
        nn.init.xavier_normal_(self.user_embedding.weight)
        nn.init.xavier_normal_(self.item_embedding.weight)

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.user_embedding.weight, self.item_embedding.weight

    def calculate_loss(self, interaction) -> torch.Tensor:
        users, pos, neg = self.batch(interaction)
        u, i, j = self.user_embedding(users), self.item_embedding(pos), self.item_embedding(neg)  # [B, d]
        loss = bpr_loss((u * i).sum(-1), (u * j).sum(-1), eps=1e-10)
        return loss + self.reg_weight * l2_regulariser(u, i, j, style="frobenius")
