"""FREEDOM (ACM MM'23, "A Tale of Two Graphs: Freezing and Denoising Graph Structures"), graph_models.md §4.6.

Forward, for any number of modalities m with mixing weights ``w_m`` (``modality_weights``; the paper's 0.1 image +
0.9 text):

1. frozen item graph ``S = sum_m w_m kNN_k(cos X_m)``, unweighted (every kept entry ``1/k``), built once;
2. ``h = S^{L_mm} E_i``;
3. LightGCN (mean over ``L_ui`` layers) on the SYM user-item graph: during training the graph of the epoch after
   degree-sensitive pruning (``pre_epoch``: keep ``(1 - dropout) |E|`` edges sampled ``∝ 1/sqrt(d_u d_i)``,
   re-normalised); at evaluation the full graph;
4. ``item = e_i + h``, ``user = e_u``.

Loss: ``BPR(u, i+, i-) + reg_weight * sum_m BPR(u, P_m x_i+, P_m x_i-)`` with ``P_m: Linear(d_m -> d)`` on the
(trainable) raw features; no L2 term ("reg_weight" weighs the modality BPR terms, as in the released code).
"""

from __future__ import annotations

import torch
from torch import nn

from missrec.data.general.dataset import GeneralDataset
from missrec.models.graph.base import GraphRecommender
from missrec.models.graph.common import resolve_modality_weights, train_edges
from missrec.modules.graph import (
    as_operator,
    bipartite_adj,
    degree_sensitive_prune,
    knn_item_graph,
    lightgcn_propagate,
    mix_graphs,
    propagate,
    transpose_operator,
)
from missrec.modules.losses import bpr_loss
from missrec.registry import register_model


@register_model("FREEDOM", kind="general")
class FREEDOM(GraphRecommender):
    """FREEDOM.

    Args:
        config: ``embedding_size``, ``feat_embed_dim``, ``knn_k``, ``modality_weights``, ``n_mm_layers``,
            ``n_ui_layers``, ``dropout`` (edge pruning ratio), ``reg_weight``, ``seed`` (+ the base keys).
        dataset: the general dataset with at least one modality.
    """

    MULTIMODAL = True

    def __init__(self, config, dataset: GeneralDataset) -> None:
        super().__init__(config, dataset)
        self.knn_k = int(config["knn_k"])
        self.n_mm_layers = int(config["n_mm_layers"])
        self.n_ui_layers = int(config["n_ui_layers"])
        self.dropout = float(config["dropout"])
        self.reg_weight = float(config["reg_weight"])
        self.seed = int(config["seed"])
        feat_dim = int(config["feat_embed_dim"])
        self.init_id_embeddings()
        features = self.init_trainable_features(dataset)  # trainable, feed P_m only
        self.projections = nn.ModuleList([nn.Linear(f.shape[1], feat_dim) for f in features])
        weights = resolve_modality_weights(config["modality_weights"], dataset.modalities)
        with torch.no_grad():
            graphs = [knn_item_graph(f, self.knn_k, weighted=False, norm="sym") for f in features]
        mm_adj = mix_graphs(graphs, weights)
        self.register_buffer("mm_adj", as_operator(mm_adj), persistent=False)  # S [I, I]
        self.register_buffer("mm_adj_t", transpose_operator(mm_adj), persistent=False)  # kNN graphs are not symmetric
        # the pruning sample is drawn on the host (seeded, device-independent); graphs are built on the device
        self.edge_users, self.edge_items = train_edges(dataset, "cpu")
        full = bipartite_adj(self.edge_users, self.edge_items, self.n_users, self.n_items, norm="sym")
        self.register_buffer("norm_adj", as_operator(full.to(self.device)), persistent=False)
        self.register_buffer("masked_adj", self.norm_adj, persistent=False)
        self.pruned_epoch: int | None = None

    def prune_edges(self, epoch: int) -> int:
        """Degree-sensitive pruning for ``epoch``; returns the number of kept interactions."""
        if self.dropout <= 0.0:
            self.masked_adj = self.norm_adj
            self.pruned_epoch = epoch
            return len(self.edge_users)
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        users, items = degree_sensitive_prune(
            self.edge_users, self.edge_items, self.n_users, self.n_items, 1.0 - self.dropout, generator
        )
        adj = bipartite_adj(users, items, self.n_users, self.n_items, norm="sym")
        self.masked_adj = as_operator(adj.to(self.norm_adj.device))
        self.pruned_epoch = epoch
        return len(users)

    def pre_epoch(self, trainer) -> dict | None:
        record = super().pre_epoch(trainer) or {}
        record["kept_edges"] = self.prune_edges(trainer.current_epoch)
        return record

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training and self.pruned_epoch is None:
            self.prune_edges(0)  # trained without the trainer's pre_epoch hook
        adj = self.masked_adj if self.training else self.norm_adj
        h = propagate(self.mm_adj, self.item_embedding.weight, self.n_mm_layers, "last", adj_t=self.mm_adj_t)  # [I, d]
        users, items = lightgcn_propagate(  # SYM graphs are symmetric: their own transposes
            adj, self.user_embedding.weight, self.item_embedding.weight, self.n_ui_layers, adj_t=adj
        )
        return users, items + h

    def calculate_loss(self, interaction) -> torch.Tensor:
        users, pos, neg = self.batch(interaction)
        user_all, item_all = self.forward()
        u = user_all[users]  # [B, d]
        loss = bpr_loss((u * item_all[pos]).sum(-1), (u * item_all[neg]).sum(-1))
        if self.reg_weight > 0:
            modality = 0.0
            for proj, x in zip(self.projections, self.features, strict=True):
                fp, fn = proj(x[pos]), proj(x[neg])  # [B, d]
                modality = modality + bpr_loss((u * fp).sum(-1), (u * fn).sum(-1))
            loss = loss + self.reg_weight * modality
        return loss
