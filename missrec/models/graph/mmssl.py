"""MMSSL (WWW'23, "Multi-Modal Self-Supervised Learning for Recommendation"), graph_models.md §4.9.

Forward, for any number of modalities m (the released code reads image and text only, §8.2 f):

1. ``F_m = Dropout(W_m X_m + b_m)``; feature propagation on the BIP-1/2 operators ``U^f_m = P F_m``,
   ``I^f_m = Q U^f_m`` (repeated ``n_feat_layers`` times, alternating);
2. ID propagation on the modality-aware graphs (:mod:`.mmssl_graphs`): ``U^id_m = P_m E_i``, ``I^id_m = Q_m E_u``;
3. cross-modal dependency: multi-head self-attention over the modality axis, mean over modalities
   -> ``Z_u``, ``Z_i`` (:class:`~.mmssl_modules.ModalityAttention`);
4. ``U^0 = E_u + id_cat_rate norm(Z_u)``, ``I^0 = E_i + id_cat_rate norm(Z_i)``;
5. ``L`` layers of alternating propagation ``U^l = P I^(l-1)``, ``I^l = Q U^l``, softmax over the embedding at the
   last layer, mean over ``l = 0..L``;
6. ``U = mean + model_cat_rate sum_m norm(U^f_m)``, ``I = mean + model_cat_rate sum_m norm(I^f_m)``.

Per training batch (users b, one positive and one negative each):

* modality predictions ``s^m_u = norm((U^f_m[u] I^f_m^T) * (1 - R_u))`` and the "real" distribution
  ``r_u = norm(softmax(R_u + log_log_scale g / real_data_tau) + ui_pre_scale s_u)`` (``g`` Gumbel noise, ``s_u``
  the same prediction from the final ``U``, ``I``; the released precedence, only the noise is divided by tau);
* **discriminator step** (WGAN-GP, its own Adam): ``-mean D(r) + mean D(s^m) + gp_rate 0.3 GP``;
* generator loss ``BPR + decay 1/2 (|u|^2 + |i+|^2 + |i-|^2) / B + feat_reg_decay 1/2 sum |U^f|^2 + |I^f|^2 / I
  + cl_rate sum_m GRACE(U^id_m[b], U[b]; tau) + G_rate (-mean D(s^m))``;
* the modality graphs are regenerated from ``s^m`` (:meth:`ModalityGraphs.observe`).

The discriminator step runs inside :meth:`calculate_loss`, after the generator forward and before the generator
loss is formed, so it trains on the current batch's predictions exactly where the released code puts it (before the
generator step). ``aux_step`` would run it after the main optimiser step, on the previous batch's predictions. Here
the discriminator step reuses the generator forward (detached) instead of the released extra no-grad forward: the
only difference is that both share one feature-dropout draw. The discriminator is frozen outside its own step, so
the main optimiser never owns it and the generator loss only reaches it as a path to ``s^m``.

Where this follows the paper rather than the released code (graph_models.md §8.2): the modality graphs stay
populated (a, ``legacy_modality_graphs`` reproduces the released emptying), the attention is a real softmax
attention (b), the discriminator's LeakyReLU has slope ``D_leaky_slope`` = 0.01 (c; 1.0 = released). Kept as
released: AdamW with weight decay 0.01 (d, in the props), a constant learning rate (e). The discriminator keeps the
released widths ``I -> I/4 -> I/8``, whose memory grows as ``I^2`` (a critic step fits 8 GB up to about 36k items,
80 GB up to about 120k: benchmarks/RESULTS.md); ``D_max_width`` caps them for larger catalogues
(:mod:`.mmssl_modules`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from missrec.data.general.dataset import GeneralDataset
from missrec.errors import ConfigError
from missrec.evaluation.general import gather_rows
from missrec.models.graph.base import GraphRecommender
from missrec.models.graph.common import train_edges
from missrec.models.graph.mmssl_graphs import ModalityGraphs, generated_k
from missrec.models.graph.mmssl_modules import Discriminator, ModalityAttention, critic_adam
from missrec.modules.graph import alternating_bipartite_propagate, bipartite_left_sqrt
from missrec.modules.losses import bpr_loss, gradient_penalty, info_nce, l2_regulariser
from missrec.modules.losses.auxiliary import AuxiliaryOptimizer
from missrec.registry import register_model

GP_SCALE = 0.3  # the released gradient penalty is 0.3 * mean((|grad| - 1)^2), times gp_rate


@dataclass
class MMSSLOutputs:
    """What one forward produces: final ``users [U, d]``, ``items [I, d]``; the lists hold one entry per modality."""

    users: torch.Tensor
    items: torch.Tensor
    feat_users: list[torch.Tensor]  # U^f_m
    feat_items: list[torch.Tensor]  # I^f_m
    id_users: list[torch.Tensor]  # U^id_m


@register_model("MMSSL", kind="general")
class MMSSL(GraphRecommender):
    """MMSSL: adversarial modality-aware self-augmentation + cross-modal contrastive learning.

    Args:
        config: ``embedding_size``, ``n_layers``, ``n_feat_layers``, ``drop_rate``, ``head_num``, ``id_cat_rate``,
            ``model_cat_rate``, ``decay``, ``feat_reg_decay``, ``cl_rate``, ``tau``, ``G_rate``, ``D_lr``,
            ``D_betas``, ``D_dropouts``, ``D_leaky_slope``, ``D_max_width``, ``gp_rate``, ``log_log_scale``,
            ``real_data_tau``, ``ui_pre_scale``, ``m_topk_rate``, ``regenerate_every``, ``legacy_modality_graphs``
            (+ the base keys).
        dataset: the general dataset with at least one modality.
    """

    MULTIMODAL = True
    LOSS_TERMS = ("bpr", "feat_reg", "contrastive", "generator")  # weighted, logged per epoch by the trainer

    def __init__(self, config, dataset: GeneralDataset) -> None:
        super().__init__(config, dataset)
        d = self.embedding_size
        self.n_layers = int(config["n_layers"])
        self.n_feat_layers = int(config["n_feat_layers"])
        if self.n_layers < 1 or self.n_feat_layers < 1:
            raise ConfigError(
                f"MMSSL needs n_layers >= 1 and n_feat_layers >= 1, found {self.n_layers} and {self.n_feat_layers}"
            )
        self.id_cat_rate = float(config["id_cat_rate"])
        self.model_cat_rate = float(config["model_cat_rate"])
        self.decay = float(config["decay"])
        self.feat_reg_decay = float(config["feat_reg_decay"])
        self.cl_rate = float(config["cl_rate"])
        self.tau = float(config["tau"])
        self.g_rate = float(config["G_rate"])
        self.gp_rate = float(config["gp_rate"])
        self.log_log_scale = float(config["log_log_scale"])
        self.real_data_tau = float(config["real_data_tau"])
        self.ui_pre_scale = float(config["ui_pre_scale"])

        self.init_id_embeddings(d)
        features = [f.float().to(self.device) for f in dataset.feature_list]
        for m, f in enumerate(features):
            self.register_buffer(f"feature_{m}", f, persistent=False)  # X_m [I, d_m], fixed
        self.n_modalities = len(features)
        self.feature_encoders = nn.ModuleList([nn.Linear(f.shape[1], d) for f in features])
        for layer in self.feature_encoders:
            nn.init.xavier_uniform_(layer.weight)
        self.feature_dropout = nn.Dropout(float(config["drop_rate"]))
        self.attention = ModalityAttention(d, int(config["head_num"]))

        users, items = train_edges(dataset, self.device)
        p, q = bipartite_left_sqrt(users, items, self.n_users, self.n_items)
        self.register_buffer("ui_op", p, persistent=False)  # P [U, I]
        self.register_buffer("iu_op", q, persistent=False)  # Q [I, U]
        indptr, indices = dataset.user_items("train")
        self.register_buffer("train_indptr", torch.from_numpy(indptr).to(self.device), persistent=False)
        self.register_buffer("train_indices", torch.from_numpy(indices).to(self.device), persistent=False)
        legacy = bool(config["legacy_modality_graphs"])
        self.modality_graphs = ModalityGraphs(
            users, items, self.n_users, self.n_items, self.n_modalities,
            k=generated_k(self.n_items, float(config["m_topk_rate"]), legacy),
            every=int(config["regenerate_every"]),
            legacy=legacy,
        )

        max_width = config["D_max_width"]
        self.discriminator = Discriminator(
            self.n_items, float(config["D_leaky_slope"]), list(config["D_dropouts"]),
            max_width=None if max_width is None else int(max_width),
        )
        d_lr, d_betas = float(config["D_lr"]), tuple(float(b) for b in config["D_betas"])
        self.discriminator_optimizer = AuxiliaryOptimizer(self.discriminator, critic_adam(d_lr, d_betas))
        self.last_discriminator_loss: float | None = None

    # ---- forward -----------------------------------------------------------------------------------------------
    def features(self) -> list[torch.Tensor]:
        """``X_m [I, d_m]`` in the dataset's modality order."""
        return [getattr(self, f"feature_{m}") for m in range(self.n_modalities)]

    def encode(self) -> MMSSLOutputs:
        """Steps 1-6 of the module doc."""
        p, q = self.ui_op, self.iu_op
        feat_users, feat_items = [], []
        for encoder, x in zip(self.feature_encoders, self.features(), strict=True):
            f_items = self.feature_dropout(encoder(x))  # F_m [I, d]
            for _ in range(self.n_feat_layers):
                f_users = p @ f_items  # U^f_m [U, d]
                f_items = q @ f_users  # I^f_m [I, d]
            feat_users.append(f_users)
            feat_items.append(f_items)
        e_u, e_i = self.user_embedding.weight, self.item_embedding.weight
        graphs = self.modality_graphs.operators()
        id_users = [p_m @ e_i for p_m, _ in graphs]  # U^id_m [U, d]
        id_items = [q_m @ e_u for _, q_m in graphs]  # I^id_m [I, d]
        z_u = self.attention(torch.stack(id_users))[0].mean(0)  # [U, d]
        z_i = self.attention(torch.stack(id_items))[0].mean(0)  # [I, d]
        u0 = e_u + self.id_cat_rate * F.normalize(z_u, dim=1)
        i0 = e_i + self.id_cat_rate * F.normalize(z_i, dim=1)
        users, items = alternating_bipartite_propagate(p, q, u0, i0, self.n_layers, softmax_last=True)
        users = users + self.model_cat_rate * sum(F.normalize(f, dim=1) for f in feat_users)
        items = items + self.model_cat_rate * sum(F.normalize(f, dim=1) for f in feat_items)
        return MMSSLOutputs(users, items, feat_users, feat_items, id_users)

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.encode()
        return out.users, out.items

    # ---- adversarial self-augmentation -------------------------------------------------------------------------
    def train_mask(self, users: torch.Tensor) -> torch.Tensor:
        """``R_u [B, I]`` as booleans (True = training interaction)."""
        rows, cols = gather_rows(self.train_indptr, self.train_indices, users)
        mask = torch.zeros(len(users), self.n_items, dtype=torch.bool, device=users.device)
        mask[rows, cols] = True
        return mask

    @staticmethod
    def predictions(user_rep: torch.Tensor, item_rep: torch.Tensor, train_mask: torch.Tensor) -> torch.Tensor:
        """``norm((u I^T) * (1 - R_u))`` ``[B, I]`` for batch user vectors ``user_rep [B, d]``."""
        return F.normalize((user_rep @ item_rep.T).masked_fill(train_mask, 0.0), dim=1)

    def real_distribution(self, train_mask: torch.Tensor, cf_scores: torch.Tensor) -> torch.Tensor:
        """``r_u`` (module doc): Gumbel-perturbed softmax of ``R_u`` plus the scaled collaborative prediction."""
        uniform = torch.rand(train_mask.shape, device=train_mask.device)
        noise = -self.log_log_scale * torch.log(-torch.log(uniform + 1e-8) + 1e-8) / self.real_data_tau
        r = torch.softmax(train_mask.float() + noise, dim=1)
        return F.normalize(r + self.ui_pre_scale * cf_scores, dim=1)

    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """WGAN-GP critic loss ``-mean D(real) + mean D(fake) + gp_rate 0.3 GP`` (inputs detached, ``[N, I]``)."""
        d = self.discriminator
        penalty = gradient_penalty(d, real, fake)
        return -d(real).mean() + d(fake).mean() + self.gp_rate * GP_SCALE * penalty

    def discriminator_step(self, real: torch.Tensor, fake: torch.Tensor) -> float:
        """One Adam step of the discriminator on detached ``real`` and ``fake`` ``[N, I]``; returns its loss."""
        real, fake = real.detach(), fake.detach()
        loss = self.discriminator_optimizer.step(lambda: self.discriminator_loss(real, fake))
        self.last_discriminator_loss = float(loss)
        return self.last_discriminator_loss

    # ---- training ----------------------------------------------------------------------------------------------
    def pre_epoch(self, trainer) -> dict | None:
        self.modality_graphs.new_epoch()
        return super().pre_epoch(trainer)

    def calculate_loss(self, interaction) -> tuple[torch.Tensor, ...]:
        users, pos, neg = self.batch(interaction)
        out = self.encode()
        mask = self.train_mask(users)  # [B, I]
        fake = [self.predictions(fu[users], fi, mask) for fu, fi in zip(out.feat_users, out.feat_items, strict=True)]  # s^m
        if self.g_rate > 0:
            cf = self.predictions(out.users[users].detach(), out.items.detach(), mask)
            real = self.real_distribution(mask, cf)
            self.discriminator_step(real.repeat(self.n_modalities, 1), torch.cat(fake))
        self.modality_graphs.observe(users, [s.detach() for s in fake], mask)

        u, i, j = out.users[users], out.items[pos], out.items[neg]  # [B, d]
        bpr = bpr_loss((u * i).sum(-1), (u * j).sum(-1))
        bpr = bpr + self.decay * l2_regulariser(u, i, j, style="half_squared")
        feat_reg = self.feat_reg_decay * l2_regulariser(
            *out.feat_items, *out.feat_users, style="half_squared", denominator=self.n_items
        )
        anchor = out.users[users]
        contrastive = sum(info_nce(z[users], anchor, self.tau, intra_view_negatives=True) for z in out.id_users)
        generator = -self.discriminator(torch.cat(fake)).mean() if self.g_rate > 0 else torch.zeros((), device=u.device)
        return bpr, feat_reg, self.cl_rate * contrastive, self.g_rate * generator
