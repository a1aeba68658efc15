"""BM3 (WWW'23, "Bootstrap Latent Representations for Multi-modal Recommendation"), graph_models.md §4.7.

No item-item graph and no negative sampling: batches are (user, positive item) pairs. For any number of
modalities m:

1. LightGCN on the SYM user-item graph, mean over ``n_layers`` -> ``(e_u, e_i^g)``; ``e_i = e_i^g + E_i`` (residual
   of the ID embedding);
2. modality features ``f_m = W_m X_m + b_m`` (``Linear(d_m -> d)``, xavier-normal; the raw ``X_m`` are trainable, as
   MMRec's ``from_pretrained(freeze=False)``);
3. a single shared predictor ``p: Linear(d -> d)`` for users, items and every ``f_m``;
4. targets are dropout views of the stopped-gradient embeddings, ``x~ = Dropout_p(sg(x))`` (always on, rescaled
   by ``1 / (1 - p)``).

Loss (each cosine term ``1 - mean cos``, :func:`byol_cosine`):

    L = [cos(p(e_u), i~) + cos(p(e_i), u~)]                                  (L_rec)
      + reg_weight (||E_u^final||_F + ||E_i^final||_F) / I                    (L_reg, MMRec's EmbLoss on all rows)
      + cl_weight sum_m [cos(p(f_m)_i, i~) + cos(p(f_m)_i, f~_m,i)]          (L_align + L_mask)

Scoring: ``p(e_u) . p(e_i)``, so :meth:`BM3.forward` returns the predictor outputs; the modality encoders are not
used at prediction (the author confirms this in BM3 issue #3, §8.1). The targets are drawn for the batch rows only:
the same distribution as MMRec's dropout over all rows followed by indexing, with less work.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from missrec.data.general.dataset import GeneralDataset
from missrec.models.graph.base import GraphRecommender
from missrec.models.graph.common import train_edges
from missrec.modules.graph import as_operator, bipartite_adj, lightgcn_propagate
from missrec.modules.losses import byol_cosine, l2_regulariser
from missrec.registry import register_model


@register_model("BM3", kind="general")
class BM3(GraphRecommender):
    """BM3.

    Args:
        config: ``embedding_size`` (d), ``n_layers``, ``dropout`` (target views), ``reg_weight``, ``cl_weight``
            (+ the base keys).
        dataset: the general dataset with at least one modality.
    """

    NEEDS_NEGATIVES = False
    MULTIMODAL = True

    def __init__(self, config, dataset: GeneralDataset) -> None:
        super().__init__(config, dataset)
        self.n_layers = int(config["n_layers"])
        self.dropout = float(config["dropout"])
        self.reg_weight = float(config["reg_weight"])
        self.cl_weight = float(config["cl_weight"])
        d = self.embedding_size
        self.init_id_embeddings(d)
        self.predictor = nn.Linear(d, d)
        nn.init.xavier_normal_(self.predictor.weight)
        self.init_modality_encoders(config, dataset)
        users, items = train_edges(dataset, self.device)
        adj = bipartite_adj(users, items, self.n_users, self.n_items, norm="sym")
        self.register_buffer("norm_adj", as_operator(adj), persistent=False)  # [U+I, U+I]

    # ---- modality encoders (SGFD-BM3 replaces them with its students) ----------------------------------------
    def init_modality_encoders(self, config, dataset: GeneralDataset) -> None:
        """Step 2: trainable raw features ``X_m`` and ``W_m: Linear(d_m -> d)`` per modality."""
        features = self.init_trainable_features(dataset)
        self.encoders = nn.ModuleList([nn.Linear(f.shape[1], self.embedding_size) for f in features])
        for encoder in self.encoders:
            nn.init.xavier_normal_(encoder.weight)

    def modality_features(self, items: torch.Tensor) -> list[torch.Tensor]:
        """``f_m`` of ``items [B]``: one ``[B, d]`` tensor per modality."""
        return [encoder(x[items]) for encoder, x in zip(self.encoders, self.features, strict=True)]

    # ---- forward ------------------------------------------------------------------------------------------------
    def encode(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Step 1: ``(e_u [U, d], e_i [I, d])`` before the predictor."""
        adj = self.norm_adj  # SYM is symmetric: its own transpose
        users, items = lightgcn_propagate(
            adj, self.user_embedding.weight, self.item_embedding.weight, self.n_layers, adj_t=adj
        )
        return users, items + self.item_embedding.weight

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Scoring representations ``(p(e_u) [U, d], p(e_i) [I, d])``."""
        users, items = self.encode()
        return self.predictor(users), self.predictor(items)

    def target(self, x: torch.Tensor) -> torch.Tensor:
        """Step 4: ``Dropout_p(sg(x))``, in training mode whatever the module's mode."""
        return F.dropout(x.detach(), self.dropout, training=True)

    def loss_terms(self, users: torch.Tensor, items: torch.Tensor) -> dict[str, torch.Tensor]:
        """Unweighted terms ``rec``, ``reg``, ``align``, ``mask`` (see module doc) for the pairs ``(users, items)``."""
        user_all, item_all = self.encode()
        u, i = user_all[users], item_all[items]  # [B, d]
        u_target, i_target = self.target(u), self.target(i)
        rec = byol_cosine(self.predictor(u), i_target) + byol_cosine(self.predictor(i), u_target)
        align = mask = torch.zeros((), device=u.device)
        for f in self.modality_features(items):  # [B, d] each
            online = self.predictor(f)
            align = align + byol_cosine(online, i_target)
            mask = mask + byol_cosine(online, self.target(f))
        reg = l2_regulariser(user_all, item_all, style="frobenius")  # (||U|| + ||I||) / I
        return {"rec": rec, "reg": reg, "align": align, "mask": mask}

    def calculate_loss(self, interaction) -> torch.Tensor:
        users, items, _ = self.batch(interaction)
        t = self.loss_terms(users, items)
        return t["rec"] + self.reg_weight * t["reg"] + self.cl_weight * (t["align"] + t["mask"])
