"""GRCN (MM'20, "Graph-Refined Convolutional Network for Multimedia Recommendation with Implicit Feedback"),
graph_models.md §4.8.

Users are nodes ``0..U-1`` and item ``i`` is node ``U + i``; the E training interactions give ``2E`` directed edges
(user->item first, then their reverses). For any number of modalities m:

1. content features ``F_m = LeakyReLU(W_m X_m)`` ``[I, d_C]`` (fixed raw ``X_m``) and user preferences
   ``P_m [U, d_C]``, both L2-normalised;
2. user preference routing, ``num_routing`` times: ``P_m,u <- norm(P_m,u + sum_{i in N(u)} a_ui F_m,i)`` with
   ``a_ui = softmax_{i in N(u)} <P_m,u, F_m,i>`` (:func:`dot_attention_conv` on the item->user edges);
3. content graph: ``x = [P_m; F_m]``, ``(x^, alpha^m) = GAT(x, all 2E edges)``, ``rep_m = x + x^`` (LeakyReLU on
   ``x^`` when ``has_act``); ``alpha^m`` is the modality's attention on every directed edge;
4. graph refinement: ``w_e = max_m alpha^m_e C[src(e), m]`` with a learned confidence table ``C [U+I, M]``;
   ``ReLU(w)`` when ``edge_pruning``;
5. ID graph: ``x = norm(E)``, ``x1 = sum_s w_st x_s`` (sum aggregation, no degree normalisation), ``x2`` the same on
   ``x1``, ``id_rep = x + x1 + x2``;
6. representation ``[id_rep ; rep_1 ; ... ; rep_M]`` (``d + M d_C``), scored by inner product.

Loss: ``-mean log sigma(s+ - s-) + reg_weight (mean E[u]^2 + mean E[i+, i-]^2 + sum_m mean P_m[u]^2)`` (the
confidence regulariser is computed but not added in the released code, so it is left out).

Deliberate differences from the released code:

* Routing direction (§4.8, §8.2): the released code runs step 2 on the user->item edge list; with PyG's
  ``source_to_target`` flow users then receive no message, so the routing loop only re-normalises ``P_m``. Here
  users attend over their items, as the paper describes. ``legacy_noop_routing=True`` routes on the released list
  (the GRCN rows of the MMRec benchmark, §6.2, and of SGFD's table, §6.4, come from that code).
* Prediction recomputes the representation in eval mode instead of reusing the one cached at the last training
  forward (§4.8 "Inference", §9.2).
* Any number of modalities (the released ``conetent_rep`` typo crashes with text alone, §8.2); edge dropout
  (0 in every released setting) is not implemented.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from missrec.data.general.dataset import GeneralDataset
from missrec.models.graph.base import GraphRecommender
from missrec.models.graph.common import train_edges
from missrec.modules.graph import bipartite_edge_index, message_pass
from missrec.modules.graph.attention import dot_attention_conv
from missrec.modules.losses import bpr_loss, l2_regulariser
from missrec.registry import register_model


def route_preferences(
    preference: torch.Tensor, features: torch.Tensor, route_edges: torch.Tensor, num_routing: int
) -> torch.Tensor:
    """Step 2: ``P <- norm(P + GAT([P; F], route_edges)[:U])``, ``num_routing`` times.

    Args:
        preference: ``[U, d_C]`` normalised user preferences.
        features: ``[I, d_C]`` normalised item content features.
        route_edges: ``[2, E]`` item->user edges (the paper), or user->item (released code: users receive nothing).
        num_routing: iterations.

    Returns:
        ``[U, d_C]`` routed preferences.
    """
    n_users = preference.shape[0]
    for _ in range(num_routing):
        x = torch.cat([preference, features], 0)  # [U+I, d_C]
        x_hat, _ = dot_attention_conv(x, route_edges)
        preference = F.normalize(preference + x_hat[:n_users], dim=1)
    return preference


def content_graph(
    preference: torch.Tensor, features: torch.Tensor, edges: torch.Tensor, has_act: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Step 3: ``(rep [U+I, d_C], alpha [2E])`` of one modality on the bidirectional ``edges``."""
    x = torch.cat([preference, features], 0)
    x_hat, alpha = dot_attention_conv(x, edges)
    if has_act:
        x_hat = F.leaky_relu(x_hat)
    return x + x_hat, alpha


def refined_edge_weights(
    alphas: list[torch.Tensor], confidence: torch.Tensor, sources: torch.Tensor, pruning: bool
) -> torch.Tensor:
    """Step 4: ``w_e = max_m alpha^m_e C[src(e), m]`` ``[2E]`` (``ReLU`` when ``pruning``)."""
    weights = torch.stack(alphas, 1) * confidence[sources]  # [2E, M]
    weights = weights.max(1).values
    return torch.relu(weights) if pruning else weights


def id_graph(embedding: torch.Tensor, edges: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Step 5: ``x + x1 + x2`` with ``x = norm(E)`` and two weighted sum-aggregation hops ``[U+I, d]``."""
    x = F.normalize(embedding, dim=1)
    x1 = message_pass(x, edges, weights)
    x2 = message_pass(x1, edges, weights)
    return x + x1 + x2


@register_model("GRCN", kind="general")
class GRCN(GraphRecommender):
    """GRCN with the paper's user-preference routing (see the module doc for the legacy switch).

    Args:
        config: ``embedding_size`` (d_E), ``latent_embedding`` (d_C), ``num_routing``, ``reg_weight``, ``has_act``,
            ``edge_pruning``, ``legacy_noop_routing`` (+ the base keys).
        dataset: the general dataset with at least one modality.
    """

    MULTIMODAL = True

    def __init__(self, config, dataset: GeneralDataset) -> None:
        super().__init__(config, dataset)
        self.latent_dim = int(config["latent_embedding"])
        self.num_routing = int(config["num_routing"])
        self.reg_weight = float(config["reg_weight"])
        self.has_act = bool(config["has_act"])
        self.edge_pruning = bool(config["edge_pruning"])
        self.legacy_noop_routing = bool(config["legacy_noop_routing"])
        self.n_modalities = len(dataset.feature_list)
        n_nodes = self.n_users + self.n_items
        self.id_embedding = nn.Parameter(nn.init.xavier_normal_(torch.empty(n_nodes, self.embedding_size)))
        self.preferences = nn.ParameterList(
            [nn.Parameter(nn.init.xavier_normal_(torch.empty(self.n_users, self.latent_dim))) for _ in range(self.n_modalities)]
        )
        self.confidence = nn.Parameter(nn.init.xavier_normal_(torch.empty(n_nodes, self.n_modalities)))
        self.init_content_encoders(config, dataset)
        users, items = train_edges(dataset, self.device)
        edges = bipartite_edge_index(users, items, self.n_users, self.n_items, "both")  # [2, 2E]
        route = "user_to_item" if self.legacy_noop_routing else "item_to_user"
        self.register_buffer("edges", edges, persistent=False)
        self.register_buffer(
            "route_edges", bipartite_edge_index(users, items, self.n_users, self.n_items, route), persistent=False
        )

    # ---- content encoders (SGFD-GRCN replaces them with its students) ----------------------------------------
    def init_content_encoders(self, config, dataset: GeneralDataset) -> None:
        """Step 1: the fixed raw features and ``W_m: Linear(d_m -> d_C)`` per modality."""
        for m, f in enumerate(dataset.feature_list):
            self.register_buffer(f"raw_feature_{m}", f.float().to(self.device), persistent=False)  # X_m [I, d_m]
        self.encoders = nn.ModuleList([nn.Linear(f.shape[1], self.latent_dim) for f in dataset.feature_list])

    def content_features(self) -> list[torch.Tensor]:
        """``F_m = LeakyReLU(W_m X_m)`` ``[I, d_C]`` per modality (before normalisation)."""
        return [F.leaky_relu(enc(getattr(self, f"raw_feature_{m}"))) for m, enc in enumerate(self.encoders)]

    # ---- forward and loss ---------------------------------------------------------------------------------------
    def modality_representations(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Steps 1-3: ``rep_m [U+I, d_C]`` and ``alpha^m [2E]`` per modality."""
        reps, alphas = [], []
        for preference, features in zip(self.preferences, self.content_features()):
            p, f = F.normalize(preference, dim=1), F.normalize(features, dim=1)
            p = route_preferences(p, f, self.route_edges, self.num_routing)
            rep, alpha = content_graph(p, f, self.edges, self.has_act)
            reps.append(rep)
            alphas.append(alpha)
        return reps, alphas

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        reps, alphas = self.modality_representations()
        weights = refined_edge_weights(alphas, self.confidence, self.edges[0], self.edge_pruning)  # [2E]
        representation = torch.cat([id_graph(self.id_embedding, self.edges, weights), *reps], 1)  # [U+I, d + M d_C]
        return representation[: self.n_users], representation[self.n_users :]

    def calculate_loss(self, interaction) -> torch.Tensor:
        users, pos, neg = self.batch(interaction)
        user_all, item_all = self.forward()
        u = user_all[users]  # [B, d + M d_C]
        loss = bpr_loss((u * item_all[pos]).sum(-1), (u * item_all[neg]).sum(-1))
        items = torch.cat([pos, neg]) + self.n_users
        reg = l2_regulariser(self.id_embedding[users], self.id_embedding[items], *(p[users] for p in self.preferences), style="mean_squared")
        return loss + self.reg_weight * reg
