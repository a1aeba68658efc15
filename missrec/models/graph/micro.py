"""MICRO (TKDE'22, "Latent Structure Mining with Contrastive Modality Fusion"), graph_models.md §4.5.

LATTICE's skeleton (trainable raw features, learned kNN graphs rebuilt at the first batch of every epoch and at every
evaluation, LightGCN on RW+I) with one graph per modality and a contrastive fusion. For any number of modalities m:

1. ``H_m = W_m X_m + b_m``;
2. per-modality item graph ``S_m = (1 - lambda) SYM(kNN_k(cos H_m)) + lambda S0_m`` with the frozen
   ``S0_m = SYM(kNN_k(cos X_m))`` of the initial raw features; no modality weights; sparse, chunked
   (:func:`learned_knn_graph` with one modality, :class:`RebuildSchedule` per modality);
3. modality-aware item embeddings ``h_m = S_m^{L_i} E_i``;
4. attention fusion ``a_m = w2^T tanh(W1 h_m + b1)`` (one query MLP shared by the modalities), ``beta = softmax_m a``
   per item, ``h = sum_m beta_m h_m``;
5. LightGCN on the RW+I user-item graph, mean over L layers -> ``(e_u, e_i)``; ``item = e_i + norm(h)``,
   ``user = e_u``.

Loss: ``BPR + reg_weight 1/2 (||u||^2 + ||i+||^2 + ||i-||^2) / train_batch_size + loss_ratio L_cl`` with the
contrastive fusion term ``L_cl = sum_m InfoNCE_GRACE(h_m, h; tau)`` over all items (anchors ``h_m``, negatives from
both views, cosine similarity). It is O(I^2 d) work at every step, as released (graph_models.md §8.2); its memory is
bounded: anchors are taken :func:`contrastive_chunk_rows` at a time so one chunk's ``[rows, 2I]`` exponentials hold
at most :data:`CONTRASTIVE_CHUNK_ELEMENTS` entries whatever I; one chunk keeps them for the backward pass, several
recompute theirs there (:func:`missrec.modules.losses.info_nce`).

As in :mod:`missrec.models.graph.lattice`, the graphs are built in chunks and stored sparse (§3.3) and items with an
all-zero feature row get a self-loop instead of a NaN row.
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
from missrec.modules.losses import bpr_loss, info_nce, l2_regulariser
from missrec.registry import register_model

CONTRASTIVE_CHUNK_ELEMENTS = 1 << 25  # exponentials of one InfoNCE chunk [rows, 2I]: 128 MB in float32


def contrastive_chunk_rows(n_items: int) -> int:
    """Anchors per InfoNCE chunk so that its ``[rows, 2 n_items]`` logits stay within the element budget."""
    return max(1, CONTRASTIVE_CHUNK_ELEMENTS // (2 * max(n_items, 1)))


class AttentionFusion(nn.Module):
    """Step 4: ``h = sum_m softmax_m(w2^T tanh(W1 h_m + b1)) h_m`` per item.

    Args:
        dim: embedding size d of every ``h_m``.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.query = nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, 1, bias=False))

    def weights(self, hs: list[torch.Tensor]) -> torch.Tensor:
        """``beta [I, M]``: per-item softmax over the modalities."""
        return torch.softmax(torch.cat([self.query(h) for h in hs], 1), 1)

    def forward(self, hs: list[torch.Tensor]) -> torch.Tensor:
        """``[I, d]`` fused embedding of the ``M`` tensors ``h_m [I, d]``."""
        return (self.weights(hs).unsqueeze(-1) * torch.stack(hs, 1)).sum(1)


@register_model("MICRO", kind="general")
class MICRO(GraphRecommender):
    """MICRO with a LightGCN backbone.

    Args:
        config: ``embedding_size``, ``feat_embed_dim``, ``knn_k``, ``lambda_coeff``, ``n_layers`` (UI graph),
            ``n_item_layers`` (item graphs), ``reg_weight``, ``train_batch_size``, ``loss_ratio``, ``tau``
            (+ the base keys).
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
        self.loss_ratio = float(config["loss_ratio"])
        self.tau = float(config["tau"])
        feat_dim = int(config["feat_embed_dim"])
        self.init_id_embeddings()
        features = self.init_trainable_features(dataset)  # trainable raw X_m
        self.projections = nn.ModuleList([nn.Linear(f.shape[1], feat_dim) for f in features])
        self.fusion = AttentionFusion(self.embedding_size)
        self.n_modalities = len(features)
        for m, f in enumerate(features):
            with torch.no_grad():
                frozen = knn_item_graph(f, self.knn_k, weighted=True, norm="sym")
            self.register_buffer(f"frozen_graph_{m}", frozen, persistent=False)  # S0_m [I, I]
        users, items = train_edges(dataset, self.device)
        adj = bipartite_adj(users, items, self.n_users, self.n_items, norm="rw_self_loop")
        self.register_buffer("norm_adj", as_operator(adj), persistent=False)  # [U+I, U+I]
        self.register_buffer("norm_adj_t", transpose_operator(adj), persistent=False)  # RW+I is not symmetric
        self.item_graph_schedules = [RebuildSchedule() for _ in features]

    # ---- per-modality item graphs -------------------------------------------------------------------------------
    def build_item_graph(self, m: int) -> torch.Tensor:
        """Step 2 for modality ``m`` (with gradient into ``W_m`` and ``X_m``)."""
        projected = self.projections[m](self.features[m])  # H_m [I, d_f]
        frozen = getattr(self, f"frozen_graph_{m}")
        return learned_knn_graph([projected], [frozen], [1.0], self.knn_k, self.lambda_coeff)

    def item_graphs(self) -> list[torch.Tensor]:
        """``S_m`` per modality: rebuilt when stale, else the detached copy."""
        return [s.get(lambda m=m: self.build_item_graph(m)) for m, s in enumerate(self.item_graph_schedules)]

    def mark_graphs_stale(self) -> None:
        for schedule in self.item_graph_schedules:
            schedule.mark_stale()

    def train(self, mode: bool = True) -> MICRO:
        self.mark_graphs_stale()  # every evaluation and every epoch starts with fresh graphs
        return super().train(mode)

    def pre_epoch(self, trainer) -> dict | None:
        self.mark_graphs_stale()
        return super().pre_epoch(trainer)

    # ---- forward and loss ---------------------------------------------------------------------------------------
    def encode(self) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """Steps 3-5: ``(users [U, d], items [I, d], h_m [I, d] per modality, fused h [I, d])``."""
        hs = [propagate(graph, self.item_embedding.weight, self.n_item_layers, "last") for graph in self.item_graphs()]
        h = self.fusion(hs)
        users, items = lightgcn_propagate(
            self.norm_adj, self.user_embedding.weight, self.item_embedding.weight, self.n_layers, adj_t=self.norm_adj_t
        )
        return users, items + F.normalize(h, p=2, dim=1), hs, h

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        users, items, _, _ = self.encode()
        return users, items

    def contrastive_loss(self, hs: list[torch.Tensor], h: torch.Tensor) -> torch.Tensor:
        """``L_cl = sum_m InfoNCE_GRACE(h_m, h)`` over all items."""
        rows = contrastive_chunk_rows(h.shape[0])
        return sum(info_nce(h_m, h, self.tau, intra_view_negatives=True, chunk_rows=rows) for h_m in hs)

    def calculate_loss(self, interaction) -> torch.Tensor:
        users, pos, neg = self.batch(interaction)
        user_all, item_all, hs, h = self.encode()
        u, i, j = user_all[users], item_all[pos], item_all[neg]  # [B, d]
        loss = bpr_loss((u * i).sum(-1), (u * j).sum(-1))
        loss = loss + self.reg_weight * l2_regulariser(u, i, j, style="half_squared", denominator=self.reg_denominator)
        return loss + self.loss_ratio * self.contrastive_loss(hs, h)
