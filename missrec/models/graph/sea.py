"""SEA ("It is Never Too Late to Mend: Separate Learning for Multimedia Recommendation"), graph_models.md §4.10.

Forward, for any number of modalities m (the paper: image and text):

1. ``H_m = W_m X_m + b_m`` (``Linear(d_m -> d_m)``, the raw features are fixed);
2. split into a generic and a unique part: ``g_m = H_m[:, :d_m/2]``, ``u_m = H_m[:, d_m/2:]``;
3. alignment projections ``z_m = norm(Head_m(g_m))`` (used by the loss only);
4. a GCN per modality on the PyG-SYM user-item graph, fed the whole ``H_m``:
   ``rep_m = x + A x + A^2 x`` with ``x = norm([P_m; W_2 LeakyReLU(W_1 H_m)])`` (:class:`~.sea_modules.ModalityGCN`);
5. users ``[w_u1 rep_1[u]; ...; w_uM rep_M[u]]`` with per-user modality weights ``w [U, M]`` (initialised as a
   softmax of xavier-normal noise, a free parameter afterwards);
6. items ``r_i + (S^L r)_i`` with ``r_i = [rep_1[i]; ...; rep_M[i]]`` and the frozen FREEDOM item graph
   ``S = sum_m w_m kNN_k(X_m)`` (unweighted: every kept entry ``1/k``; ``modality_weights``: 0.1 image, 0.9 text).

Loss: ``BPR (log base 2, as released) + ureg mean_m CLUB(A_m g_m, B_m u_m)
+ alpha_contrast mean_(n != anchor) InfoNCE(z_anchor, z_n; temp)``. CLUB is the sampled mutual-information upper
bound between the generic and the unique part (pushing them apart), over all items, with one estimator network
shared by the modalities; the Solosim InfoNCE aligns the generic parts across modalities (the anchor is
``solosim_anchor``, text in the paper, against every other modality; over all items).

The CLUB estimator is trained by its own Adam, ``club_steps`` (50) steps per batch on the batch's detached
``(A_m g_m, B_m u_m)`` pairs, from :meth:`aux_step`. The released trainer runs these steps between the main backward
and the main optimiser step; running them after the main step is the same computation, because the main gradients
were already taken and the estimator trains on detached samples. The estimator is frozen outside its own steps, so
the main optimiser never owns it and the bound only sends gradient to ``A_m``, ``B_m`` and the encoders.

Differences from the released code (graph_models.md §4.10, §8.2):

* prediction recomputes the representations in eval mode instead of reusing those of the last training batch
  (BatchNorm only sits in the projection heads, which scoring does not use);
* the user-user graph ``user_graph_dict.npy`` (loaded and resampled every epoch, never used) is not needed;
* the per-modality dropped-edge graphs (built, never used) are not built;
* the released YAML knobs ``reg_weight``, ``dropout``, ``mask_weight_f``, ``mask_weight_g`` and ``align_weight``
  are read by nothing and have no counterpart in the paper's objective (BPR + CLUB + Solosim), so they are left out
  of the props; ``dropout`` presumably belonged to the unused dropped-edge graphs;
* the unused ID embedding tables are not created (the released optimiser still holds them);
* the batch tensor is not modified in place.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from missrec.data.general.dataset import GeneralDataset
from missrec.errors import ConfigError
from missrec.models.graph.base import GraphRecommender
from missrec.models.graph.common import resolve_modality_weights, train_edges
from missrec.models.graph.sea_modules import ModalityGCN, ProjectionHead
from missrec.modules.graph import (
    as_operator,
    bipartite_edge_index,
    knn_item_graph,
    mix_graphs,
    propagate,
    pyg_sym_weight,
    sparse_coo,
    transpose_operator,
)
from missrec.modules.losses import CLUBSample, bpr_loss, club_estimator_step, info_nce
from missrec.modules.losses.auxiliary import AuxiliaryOptimizer, trainable
from missrec.registry import register_model


@dataclass
class SEAOutputs:
    """One forward: per modality the mapped features ``H_m [I, d_m]`` and GCN outputs ``rep_m [U+I, d]``."""

    mapped: list[torch.Tensor]
    reps: list[torch.Tensor]


def split_generic_unique(h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(g [N, d_m // 2], u [N, d_m - d_m // 2])``: the first and the second half of the features."""
    half = h.shape[1] // 2
    return h[:, :half], h[:, half:]


@register_model("SEA", kind="general")
class SEA(GraphRecommender):
    """SEA: separate learning of modality-generic and modality-unique parts.

    Args:
        config: ``embedding_size``, ``n_layers`` (GCN hops), ``knn_k``, ``modality_weights``, ``n_mm_layers``,
            ``head_hidden_dim``, ``head_out_dim``, ``club_dim``, ``club_hidden_size``, ``club_steps``,
            ``club_learning_rate``, ``ureg``, ``alpha_contrast``, ``temp``, ``solosim_anchor``, ``bpr_log_base``
            (+ the base keys).
        dataset: the general dataset with at least one modality.
    """

    MULTIMODAL = True
    LOSS_TERMS = ("bpr", "club", "solosim")  # weighted, logged per epoch by the trainer

    def __init__(self, config, dataset: GeneralDataset) -> None:
        super().__init__(config, dataset)
        d = self.embedding_size
        self.n_mm_layers = int(config["n_mm_layers"])
        self.ureg = float(config["ureg"])
        self.alpha_contrast = float(config["alpha_contrast"])
        self.temp = float(config["temp"])
        self.club_steps = int(config["club_steps"])
        self.bpr_log_base = str(config["bpr_log_base"])
        features = [f.float().to(self.device) for f in dataset.feature_list]
        for m, f in enumerate(features):
            self.register_buffer(f"feature_{m}", f, persistent=False)  # X_m [I, d_m], fixed
        self.n_modalities = len(features)
        self.anchor = self._anchor_index(config["solosim_anchor"], dataset.modalities)
        dims = [f.shape[1] for f in features]
        if min(dims) < 2:
            found = dict(zip(dataset.modalities, dims, strict=True))
            raise ConfigError(f"SEA splits every modality into two halves, each needs >= 2 dimensions, found {found}")

        self.modality_maps = nn.ModuleList([nn.Linear(dm, dm) for dm in dims])  # W_m
        self.gcns = nn.ModuleList([ModalityGCN(dm, d, self.n_users, int(config["n_layers"])) for dm in dims])
        noise = nn.init.xavier_normal_(torch.empty(self.n_users, self.n_modalities))
        self.user_modality_weight = nn.Parameter(torch.softmax(noise, dim=1))  # w [U, M]
        head_hidden, head_out = int(config["head_hidden_dim"]), int(config["head_out_dim"])
        self.heads = nn.ModuleList([ProjectionHead(dm // 2, head_hidden, head_out) for dm in dims])
        club_dim = int(config["club_dim"])
        self.generic_maps = nn.ModuleList([nn.Linear(dm // 2, club_dim) for dm in dims])  # A_m
        self.unique_maps = nn.ModuleList([nn.Linear(dm - dm // 2, club_dim) for dm in dims])  # B_m
        self.club = CLUBSample(club_dim, club_dim, int(config["club_hidden_size"]))
        club_lr = float(config["club_learning_rate"] or config["learning_rate"])
        self.club_optimizer = AuxiliaryOptimizer(self.club, lambda params: torch.optim.Adam(params, lr=club_lr))
        self._club_pairs: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.last_club_learning_loss: float | None = None

        users, items = train_edges(dataset, self.device)
        edge_index, weight = pyg_sym_weight(
            bipartite_edge_index(users, items, self.n_users, self.n_items), self.n_users + self.n_items
        )
        n = self.n_users + self.n_items
        adj = sparse_coo(edge_index.flip(0), weight, (n, n))  # A[target, source] = w: messages flow source -> target
        self.register_buffer("norm_adj", as_operator(adj), persistent=False)  # [U+I, U+I], symmetric
        weights = resolve_modality_weights(config["modality_weights"], dataset.modalities)
        with torch.no_grad():
            graphs = [knn_item_graph(f, int(config["knn_k"]), weighted=False, norm="sym") for f in features]
        mm_adj = mix_graphs(graphs, weights)
        self.register_buffer("mm_adj", as_operator(mm_adj), persistent=False)  # S [I, I]
        self.register_buffer("mm_adj_t", transpose_operator(mm_adj), persistent=False)

    @staticmethod
    def _anchor_index(anchor: str | None, modalities: list[str]) -> int:
        if anchor is None:
            return 0
        if anchor not in modalities:
            raise ConfigError(
                f"solosim_anchor '{anchor}' is not a modality of this dataset ({modalities}). "
                f"Fix: solosim_anchor={modalities[0]} (or ~ for the first modality)"
            )
        return modalities.index(anchor)

    # ---- forward -----------------------------------------------------------------------------------------------
    def features(self) -> list[torch.Tensor]:
        """``X_m [I, d_m]`` in the dataset's modality order."""
        return [getattr(self, f"feature_{m}") for m in range(self.n_modalities)]

    def encode(self) -> SEAOutputs:
        """Steps 1 and 4 of the module doc (the split, step 2, is taken from ``mapped`` where needed)."""
        mapped = [w(x) for w, x in zip(self.modality_maps, self.features(), strict=True)]  # H_m [I, d_m]
        reps = [gcn(h, self.norm_adj) for gcn, h in zip(self.gcns, mapped, strict=True)]  # rep_m [U+I, d]
        return SEAOutputs(mapped, reps)

    def assemble(self, reps: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Steps 5 and 6: ``(users [U, M d], items [I, M d])``."""
        u = self.n_users
        users = torch.cat([self.user_modality_weight[:, m : m + 1] * rep[:u] for m, rep in enumerate(reps)], 1)
        items = torch.cat([rep[u:] for rep in reps], 1)
        items = items + propagate(self.mm_adj, items, self.n_mm_layers, "last", adj_t=self.mm_adj_t)
        return users, items

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.assemble(self.encode().reps)

    # ---- losses ------------------------------------------------------------------------------------------------
    def club_pairs(self, mapped: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``(A_m g_m, B_m u_m)`` ``[I, club_dim]`` per modality."""
        pairs = []
        for a, b, h in zip(self.generic_maps, self.unique_maps, mapped, strict=True):
            g, u = split_generic_unique(h)
            pairs.append((a(g), b(u)))
        return pairs

    def club_loss(self, pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """``mean_m CLUB(x_m, y_m)`` (clamped at 0 per modality, as released)."""
        return sum(self.club(x, y) for x, y in pairs) / len(pairs)

    def solosim_loss(self, mapped: list[torch.Tensor]) -> torch.Tensor:
        """``mean_(n != anchor) InfoNCE(z_anchor, z_n)`` over all items; 0 with a single modality."""
        z = [head(split_generic_unique(h)[0]) for head, h in zip(self.heads, mapped, strict=True)]  # [I, out]
        others = [n for n in range(self.n_modalities) if n != self.anchor]
        if not others:
            return torch.zeros((), device=mapped[0].device)
        return sum(info_nce(z[self.anchor], z[n], self.temp) for n in others) / len(others)

    def calculate_loss(self, interaction) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        users, pos, neg = self.batch(interaction)
        out = self.encode()
        user_all, item_all = self.assemble(out.reps)
        u = user_all[users]  # [B, M d]
        bpr = bpr_loss((u * item_all[pos]).sum(-1), (u * item_all[neg]).sum(-1), log_base=self.bpr_log_base)
        pairs = self.club_pairs(out.mapped)
        self._club_pairs = [(x.detach(), y.detach()) for x, y in pairs]
        return bpr, self.ureg * self.club_loss(pairs), self.alpha_contrast * self.solosim_loss(out.mapped)

    def aux_step(self, interaction=None) -> float | None:
        """Train the CLUB estimator ``club_steps`` times on the last batch's detached pairs (after the main step)."""
        if not self._club_pairs or self.club_steps <= 0:
            return None
        with trainable(self.club):
            optimizer = self.club_optimizer.get()
            loss = club_estimator_step(self.club, optimizer, self._club_pairs, self.club_steps)
            optimizer.zero_grad(set_to_none=True)
        self.club_optimizer.steps += self.club_steps
        self._club_pairs = []
        self.last_club_learning_loss = loss
        return loss
