"""LightGCN (SIGIR'20), as MMRec's ``lightgcn.py`` (graph_models.md §4.2, §3.2).

``[e_u; e_i] = mean_{l=0..L} A^l [E_u; E_i]`` on the SYM-normalised user-item graph; BPR with MMRec's eps form plus
``reg_weight * EmbLoss`` on the layer-0 (ego) embeddings of the batch. Uses no modality.
"""

from __future__ import annotations

import torch

from missrec.data.general.dataset import GeneralDataset
from missrec.models.graph.base import GraphRecommender
from missrec.models.graph.common import train_edges
from missrec.modules.graph import as_operator, bipartite_adj, lightgcn_propagate
from missrec.modules.losses import bpr_loss, l2_regulariser
from missrec.registry import register_model


@register_model("LightGCN", kind="general")
class LightGCN(GraphRecommender):
    """LightGCN.

    Args:
        config: ``embedding_size``, ``n_layers`` (L), ``reg_weight`` (+ the base keys).
        dataset: the general dataset (its train split is the graph).
    """

    def __init__(self, config, dataset: GeneralDataset) -> None:
        super().__init__(config, dataset)
        self.n_layers = int(config["n_layers"])
        self.reg_weight = float(config["reg_weight"])
        self.init_id_embeddings()
        users, items = train_edges(dataset, self.device)
        adj = bipartite_adj(users, items, self.n_users, self.n_items, norm="sym")
        self.register_buffer("norm_adj", as_operator(adj), persistent=False)  # [U+I, U+I]

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        adj = self.norm_adj  # symmetric: its own transpose
        return lightgcn_propagate(adj, self.user_embedding.weight, self.item_embedding.weight, self.n_layers, adj_t=adj)

    def calculate_loss(self, interaction) -> torch.Tensor:
        users, pos, neg = self.batch(interaction)
        user_all, item_all = self.forward()
        u, i, j = user_all[users], item_all[pos], item_all[neg]  # [B, d]
        loss = bpr_loss((u * i).sum(-1), (u * j).sum(-1), eps=1e-10)
        ego = (self.user_embedding(users), self.item_embedding(pos), self.item_embedding(neg))
        return loss + self.reg_weight * l2_regulariser(*ego, style="frobenius")
