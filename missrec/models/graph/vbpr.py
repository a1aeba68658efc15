"""VBPR (AAAI'16), MMRec's "recommended version" (graph_models.md §4.3), for any number of modalities.

``item = [i_emb ; W [x_1; ...; x_M] + b]`` (2d) with the raw modality features concatenated in the dataset's order,
``user = u_emb`` (2d); no visual bias term. BPR (eps form) + ``reg_weight * EmbLoss`` on the final batch vectors.
"""

from __future__ import annotations

import torch
from torch import nn

from missrec.data.general.dataset import GeneralDataset
from missrec.models.graph.base import GraphRecommender
from missrec.modules.losses import bpr_loss, l2_regulariser
from missrec.registry import register_model


@register_model("VBPR", kind="general")
class VBPR(GraphRecommender):
    """Visual (here: any modality) BPR.

    Args:
        config: ``embedding_size`` (d), ``reg_weight`` (+ the base keys).
        dataset: the general dataset with at least one modality.
    """

    MULTIMODAL = True

    def __init__(self, config, dataset: GeneralDataset) -> None:
        super().__init__(config, dataset)
        self.reg_weight = float(config["reg_weight"])
        d = self.embedding_size
        self.u_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_users, 2 * d)))
        self.i_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_items, d)))
        raw = torch.cat([f.float() for f in dataset.feature_list], 1)  # [I, sum d_m]
        self.register_buffer("item_raw_features", raw, persistent=False)
        self.item_linear = nn.Linear(raw.shape[1], d)
        nn.init.xavier_normal_(self.item_linear.weight)
        nn.init.zeros_(self.item_linear.bias)

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        items = torch.cat([self.i_embedding, self.item_linear(self.item_raw_features)], 1)  # [I, 2d]
        return self.u_embedding, items

    def calculate_loss(self, interaction) -> torch.Tensor:
        users, pos, neg = self.batch(interaction)
        u = self.u_embedding[users]  # [B, 2d]
        i = torch.cat([self.i_embedding[pos], self.item_linear(self.item_raw_features[pos])], 1)
        j = torch.cat([self.i_embedding[neg], self.item_linear(self.item_raw_features[neg])], 1)
        loss = bpr_loss((u * i).sum(-1), (u * j).sum(-1), eps=1e-10)
        return loss + self.reg_weight * l2_regulariser(u, i, j, style="frobenius")
