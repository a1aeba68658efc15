"""GRCN (MM'20, "Graph-Refined Convolutional Network for Multimedia Recommendation with Implicit Feedback"),
graph_models.md §4.8.

Users are nodes ``0..U-1`` and item ``i`` is node ``U + i``; every training interaction ``(u, i)`` carries two
messages, ``u -> i`` and ``i -> u``. For any number of modalities m:

1. content features ``F_m = LeakyReLU(W_m X_m)`` ``[I, d_C]`` (fixed raw ``X_m``) and user preferences
   ``P_m [U, d_C]``, both L2-normalised;
2. user preference routing, ``num_routing`` times: ``P_m,u <- norm(P_m,u + sum_{i in N(u)} a_ui F_m,i)`` with
   ``a_ui = softmax_{i in N(u)} <P_m,u, F_m,i>``;
3. content graph: ``x = [P_m; F_m]``, ``x^ = GAT(x)`` on both directions (parameter-free dot-product attention,
   softmax over each node's incoming messages), ``rep_m = x + x^`` (LeakyReLU on ``x^`` when ``has_act``); the
   attention ``alpha^m`` of every message is kept;
4. graph refinement: ``w = max_m alpha^m C[src, m]`` per message, with a learned confidence table ``C [U+I, M]``
   indexed by the message's source node; ``ReLU(w)`` when ``edge_pruning``;
5. ID graph: ``x = norm(E)``, ``x1 = sum_s w_st x_s`` (sum aggregation, no degree normalisation), ``x2`` the same on
   ``x1``, ``id_rep = x + x1 + x2``;
6. representation ``[id_rep ; rep_1 ; ... ; rep_M]`` (``d + M d_C``), scored by inner product.

Loss: ``-mean log sigma(s+ - s-) + reg_weight (mean E[u]^2 + mean E[i+, i-]^2 + sum_m mean P_m[u]^2)`` (the
confidence regulariser is computed but not added in the released code, so it is left out).

Deliberate differences from the released code:

* Routing direction (§4.8, §8.2): the released code runs step 2 on the user->item edge list; with PyG's
  ``source_to_target`` flow users then receive no message, so the routing loop only re-normalises ``P_m`` (already
  normalised): a no-op. Here users attend over their items, as the paper describes. ``legacy_noop_routing=True``
  reproduces the released behaviour (the GRCN rows of the MMRec benchmark, §6.2, and of SGFD's table, §6.4, come
  from that code).
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
from missrec.modules.graph.attention import BipartiteEdges, bipartite_dot_attention
from missrec.modules.losses import bpr_loss, l2_regulariser
from missrec.registry import register_model


def route_preferences(
    preference: torch.Tensor, features: torch.Tensor, edges: BipartiteEdges, num_routing: int
) -> torch.Tensor:
    """Step 2: ``P_u <- norm(P_u + sum_{i in N(u)} a_ui F_i)``, ``a_ui = softmax_{i in N(u)} <P_u, F_i>``.

    Args:
        preference: ``[U, d_C]`` normalised user preferences.
        features: ``[I, d_C]`` normalised item content features.
        edges: the training interactions.
        num_routing: iterations.

    Returns:
        ``[U, d_C]`` routed preferences.
    """
    for _ in range(num_routing):
        routed = bipartite_dot_attention(edges, preference, features, to_items=False).to_users
        preference = F.normalize(preference + routed, dim=1)
    return preference


def content_graph(
    preference: torch.Tensor, features: torch.Tensor, edges: BipartiteEdges, has_act: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Step 3 for one modality: ``(rep [U+I, d_C], alpha_to_items [E], alpha_to_users [E])``.

    ``alpha_to_items[e]`` weighs the message ``u -> i`` of interaction e (softmax over the users of i) and
    ``alpha_to_users[e]`` the message ``i -> u`` (softmax over the items of u).
    """
    att = bipartite_dot_attention(edges, preference, features)
    x = torch.cat([preference, features], 0)
    x_hat = torch.cat([att.to_users, att.to_items], 0)
    if has_act:
        x_hat = F.leaky_relu(x_hat)
    return x + x_hat, att.alpha_to_items, att.alpha_to_users


def refined_edge_weights(
    alphas: list[torch.Tensor], confidence: torch.Tensor, sources: torch.Tensor, pruning: bool
) -> torch.Tensor:
    """Step 4 for the messages of one direction: ``w = max_m alpha^m C[source, m]`` ``[E]``.

    Args:
        alphas: ``[E]`` attention of every modality on these messages.
        confidence: ``[U+I, M]`` the confidence table.
        sources: ``[E]`` node index of each message's source (users, or ``U + items``).
        pruning: apply ReLU.
    """
    weights = (torch.stack(alphas, 1) * confidence[sources]).max(1).values
    return torch.relu(weights) if pruning else weights


def id_graph(
    embedding: torch.Tensor, edges: BipartiteEdges, w_to_items: torch.Tensor, w_to_users: torch.Tensor,
    has_act: bool = False,
) -> torch.Tensor:
    """Step 5: ``id_rep = x + x1 + x2`` ``[U+I, d]`` with ``x = norm(E)`` (``E [U+I, d]``) and two hops
    ``x'_t = sum_s w_st x_s`` (weights of the messages ``u -> i`` and ``i -> u``, ``[E]`` each), each hop followed by
    LeakyReLU when ``has_act`` (GRCN's EGCN applies the same flag as its content GCN)."""
    n_users = edges.n_users
    layers = [F.normalize(embedding, dim=1)]
    for _ in range(2):
        users, items = layers[-1][:n_users], layers[-1][n_users:]
        hop = torch.cat([edges.to_users(w_to_users, items), edges.to_items(w_to_items, users)], 0)
        layers.append(F.leaky_relu(hop) if has_act else hop)
    return layers[0] + layers[1] + layers[2]


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
        preferences = [nn.init.xavier_normal_(torch.empty(self.n_users, self.latent_dim)) for _ in dataset.feature_list]
        self.preferences = nn.ParameterList([nn.Parameter(p) for p in preferences])  # P_m [U, d_C]
        self.confidence = nn.Parameter(nn.init.xavier_normal_(torch.empty(n_nodes, self.n_modalities)))
        self.init_content_encoders(config, dataset)
        self.edges = BipartiteEdges(*train_edges(dataset, self.device), self.n_users, self.n_items)

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
    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        edges = self.edges
        reps, alphas_to_items, alphas_to_users = [], [], []
        for preference, features in zip(self.preferences, self.content_features(), strict=True):
            p, f = F.normalize(preference, dim=1), F.normalize(features, dim=1)  # step 1
            if not self.legacy_noop_routing:
                p = route_preferences(p, f, edges, self.num_routing)  # step 2
            rep, alpha_to_items, alpha_to_users = content_graph(p, f, edges, self.has_act)  # step 3
            reps.append(rep)
            alphas_to_items.append(alpha_to_items)
            alphas_to_users.append(alpha_to_users)
        item_nodes = edges.items + self.n_users
        w_to_items = refined_edge_weights(alphas_to_items, self.confidence, edges.users, self.edge_pruning)  # step 4
        w_to_users = refined_edge_weights(alphas_to_users, self.confidence, item_nodes, self.edge_pruning)
        id_rep = id_graph(self.id_embedding, edges, w_to_items, w_to_users, self.has_act)  # step 5
        representation = torch.cat([id_rep, *reps], 1)  # step 6: [U+I, d + M d_C]
        return representation[: self.n_users], representation[self.n_users :]

    def calculate_loss(self, interaction) -> torch.Tensor:
        users, pos, neg = self.batch(interaction)
        user_all, item_all = self.forward()
        u = user_all[users]  # [B, d + M d_C]
        loss = bpr_loss((u * item_all[pos]).sum(-1), (u * item_all[neg]).sum(-1))
        nodes = torch.cat([pos, neg]) + self.n_users
        batch_params = (self.id_embedding[users], self.id_embedding[nodes], *(p[users] for p in self.preferences))
        return loss + self.reg_weight * l2_regulariser(*batch_params, style="mean_squared")
