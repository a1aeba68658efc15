"""LATTICE (ACM MM'21, "Mining Latent Structures for Multimedia Recommendation"), graph_models.md §4.4.

Forward, in the paper's order, for any number of modalities m:

1. ``H_m = W_m X_m + b_m`` (the raw features ``X_m`` are trainable, as in the released code);
2. item graph ``A = (1 - lambda) SYM(sum_m a_m kNN_k(cos H_m)) + lambda sum_m a_m S0_m`` with ``a = softmax(w)``
   and the frozen graphs ``S0_m = SYM(kNN_k(cos X_m))`` of the initial raw features; rebuilt with gradient at the
   first batch of every epoch and at every evaluation, reused detached in between (:class:`RebuildSchedule`);
3. ``h = A^{L_i} E_i``;
4. LightGCN on the RW+I user-item graph, L layers, mean over layers -> ``(e_u, e_i)``;
5. ``item = e_i + normalize(h)``, ``user = e_u``.

Loss: ``-mean log sigma(s+ - s-) + reg_weight * 1/2 (||u||^2 + ||i+||^2 + ||i-||^2) / train_batch_size`` on the final
vectors. The learning rate decays as ``0.96 ** (epoch / 50)`` (``learning_rate_scheduler``).

Deliberate differences from the released code (same maths, graph_models.md §3.3, §4.4, §7.3): the kNN graphs are
built in chunks and stored sparse (the released code holds several dense ``I x I`` matrices, which runs out of
memory on Elec); the graph is rebuilt once per evaluation rather than once per evaluation batch; items with an
all-zero feature row get a self-loop instead of a NaN row (:mod:`missrec.modules.graph.knn`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from missrec.data.general.dataset import GeneralDataset
from missrec.models.graph.base import GraphRecommender
from missrec.models.graph.common import train_edges
from missrec.modules.graph import (
    RebuildSchedule,
    as_operator,
    bipartite_adj,
    knn_item_graph,
    learned_knn_graph,
    lightgcn_propagate,
    propagate,
    transpose_operator,
)
from missrec.modules.losses import bpr_loss, l2_regulariser
from missrec.registry import register_model


@register_model("LATTICE", kind="general")
class LATTICE(GraphRecommender):
    """LATTICE with a LightGCN backbone.

    Args:
        config: ``embedding_size``, ``feat_embed_dim``, ``knn_k``, ``lambda_coeff``, ``n_layers`` (UI graph),
            ``n_item_layers`` (item graph), ``reg_weight``, ``train_batch_size`` (+ the base keys).
        dataset: the general dataset with at least one modality.
    """

    MULTIMODAL = True

    def __init__(self, config, dataset: GeneralDataset) -> None:
        super().__init__(config, dataset)
        self.knn_k = int(config["knn_k"])
        self.lambda_coeff = float(config["lambda_coeff"])
        self.n_layers = int(config["n_layers"])
        self.n_item_layers = int(config["n_item_layers"])
        self.reg_weight = float(config["reg_weight"])
        self.reg_denominator = int(config["train_batch_size"])
        feat_dim = int(config["feat_embed_dim"])
        self.init_id_embeddings()
        features = self.init_trainable_features(dataset)  # trainable raw X_m
        self.projections = nn.ModuleList([nn.Linear(f.shape[1], feat_dim) for f in features])
        self.modal_weight = nn.Parameter(torch.full((len(features),), 0.5))
        self.n_modalities = len(features)
        for m, f in enumerate(features):
            with torch.no_grad():
                frozen = knn_item_graph(f, self.knn_k, weighted=True, norm="sym")
            self.register_buffer(f"frozen_graph_{m}", frozen, persistent=False)  # S0_m [I, I]
        users, items = train_edges(dataset, self.device)
        adj = bipartite_adj(users, items, self.n_users, self.n_items, norm="rw_self_loop")
        self.register_buffer("norm_adj", as_operator(adj), persistent=False)  # [U+I, U+I]
        self.register_buffer("norm_adj_t", transpose_operator(adj), persistent=False)  # RW+I is not symmetric
        self.item_graph_schedule = RebuildSchedule()

    # ---- item graph ---------------------------------------------------------------------------------------------
    def build_item_graph(self) -> torch.Tensor:
        """Step 2 of the module doc: the mixed learned + frozen item graph (with gradient)."""
        weights = torch.softmax(self.modal_weight, 0)
        projected = [proj(x) for proj, x in zip(self.projections, self.features, strict=True)]
        frozen = [getattr(self, f"frozen_graph_{m}") for m in range(self.n_modalities)]
        return learned_knn_graph(projected, frozen, weights, self.knn_k, self.lambda_coeff)

    def item_graph(self) -> torch.Tensor:
        return self.item_graph_schedule.get(self.build_item_graph)

    def train(self, mode: bool = True) -> LATTICE:
        self.item_graph_schedule.mark_stale()  # every evaluation and every epoch starts with a fresh graph
        return super().train(mode)

    def pre_epoch(self, trainer) -> dict | None:
        self.item_graph_schedule.mark_stale()
        return super().pre_epoch(trainer)

    # ---- forward and loss ---------------------------------------------------------------------------------------
    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        h = propagate(self.item_graph(), self.item_embedding.weight, self.n_item_layers, "last")  # [I, d]
        users, items = lightgcn_propagate(
            self.norm_adj, self.user_embedding.weight, self.item_embedding.weight, self.n_layers, adj_t=self.norm_adj_t
        )
        return users, items + F.normalize(h, p=2, dim=1)

    def calculate_loss(self, interaction) -> torch.Tensor:
        users, pos, neg = self.batch(interaction)
        user_all, item_all = self.forward()
        u, i, j = user_all[users], item_all[pos], item_all[neg]  # [B, d]
        loss = bpr_loss((u * i).sum(-1), (u * j).sum(-1))
        return loss + self.reg_weight * l2_regulariser(u, i, j, style="half_squared", denominator=self.reg_denominator)
