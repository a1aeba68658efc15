"""MMSSL's modality-aware user-item graphs ``P_m``, ``Q_m``, regenerated from the modality predictions (§4.9).

The paper's modality-aware graphs are generated from the modality predictions and stay usable throughout training.
Here (the spec leaves the exact composition open; this is our reading of the self-augmentation) the observed
interactions are augmented with the items each modality predicts: after every training batch, the top-k items of
``s^m_u`` (the user's modality-specific scores over the items it has *not* interacted with) become that user's
generated edges in modality m, replacing the user's previous ones, and every ``every`` batches the graphs are rebuilt
as BIP-1/2 operators of ``observed ∪ generated``. Users not yet in a batch keep their observed edges only. The
generated items are a persistent buffer, so a checkpoint restores the graphs its weights were trained with.

The released code (``legacy=True``, graph_models.md §4.9 caveat 1, §8.2 a) differs in three ways, and under the
defaults its graphs are empty for almost the whole run:

* ``k = int(I * m_topk_rate)``: 0 for Baby and Tiktok, 1 for Sports and Allrecipes with ``m_topk_rate = 1e-4``
  (here ``k = max(1, int(I * m_topk_rate))``);
* a rebuild keeps only the edges collected since the previous rebuild and drops the observed ones;
* the rebuild fires at batch ``idx`` of an epoch when ``idx % T == 0 and idx != 0`` and that batch collects
  nothing, so with ``T = 1`` the graph of batch 2 onwards holds no edge.
"""

from __future__ import annotations

import torch
from torch import nn

from missrec.modules.graph import bipartite_left_sqrt


def generated_k(n_items: int, topk_rate: float, legacy: bool) -> int:
    """Generated items per user: ``int(I * rate)``, at least 1 unless ``legacy``."""
    k = int(n_items * topk_rate)
    return k if legacy else max(1, k)


class ModalityGraphs(nn.Module):
    """Holds the generated items per modality and user, and the operators ``(P_m [U, I], Q_m [I, U])``.

    Args:
        users, items: ``[E]`` observed training interactions.
        n_users, n_items: U, I.
        n_modalities: M.
        k: generated items per user (:func:`generated_k`).
        every: rebuild the operators every ``every`` batches (the released ``T``).
        legacy: reproduce the released regeneration (module doc).
    """

    def __init__(
        self,
        users: torch.Tensor,
        items: torch.Tensor,
        n_users: int,
        n_items: int,
        n_modalities: int,
        k: int,
        every: int = 1,
        legacy: bool = False,
    ) -> None:
        super().__init__()
        if every < 1:
            raise ValueError(f"the regeneration period must be >= 1 batch, got {every}")
        self.n_users, self.n_items, self.k, self.every, self.legacy = n_users, n_items, k, every, legacy
        self.register_buffer("observed_users", users, persistent=False)
        self.register_buffer("observed_items", items, persistent=False)
        device = users.device
        # generated_items[m, u] = the items modality m generated for user u, -1 = none
        generated = torch.full((n_modalities, n_users, k), -1, dtype=torch.long, device=device)
        self.register_buffer("generated_items", generated)
        self.register_buffer("keeps_observed", torch.ones(n_modalities, dtype=torch.bool, device=device))
        self.pending: list[tuple[torch.Tensor, torch.Tensor]] = []  # legacy: (users [B], items [M, B, k]) collected
        self.batch_in_epoch = 0
        self.batches_seen = 0
        self.rebuilds = 0
        self._operators: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        self.register_load_state_dict_post_hook(lambda module, keys: module.invalidate())

    # ---- operators ----------------------------------------------------------------------------------------------
    def invalidate(self) -> None:
        """Rebuild the operators at the next :meth:`operators` call."""
        self._operators = None

    def edges(self, m: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(users [E_m], items [E_m])`` of modality m's current graph."""
        table = self.generated_items[m]  # [U, k]
        rows = torch.arange(self.n_users, device=table.device).unsqueeze(1).expand_as(table)
        kept = table >= 0
        users, items = rows[kept], table[kept]
        if bool(self.keeps_observed[m]):
            users = torch.cat([self.observed_users, users])
            items = torch.cat([self.observed_items, items])
        return users, items

    def operators(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``[(P_m [U, I], Q_m [I, U])]`` per modality (BIP-1/2, graph_models.md §3.1); an empty graph gives zeros."""
        if self._operators is None:
            self._operators = []
            for m in range(self.generated_items.shape[0]):
                users, items = self.edges(m)
                self._operators.append(bipartite_left_sqrt(users, items, self.n_users, self.n_items))
            self.rebuilds += 1
        return self._operators

    # ---- regeneration -------------------------------------------------------------------------------------------
    def new_epoch(self) -> None:
        """The released schedule counts batches per epoch."""
        self.batch_in_epoch = 0

    @torch.no_grad()
    def observe(self, users: torch.Tensor, scores: list[torch.Tensor], train_mask: torch.Tensor) -> None:
        """Regenerate from one training batch (call after its forward).

        Args:
            users: ``[B]`` batch users.
            scores: per modality ``s^m [B, I]`` (training items already zeroed, as in the released code).
            train_mask: ``[B, I]`` True where the user interacted in training.
        """
        if self.legacy:
            self._observe_legacy(users, scores)
        else:
            for m, s in enumerate(scores):
                top = s.masked_fill(train_mask, float("-inf")).topk(self.k, dim=1).indices  # [B, k] new items only
                self.generated_items[m, users] = top
            self.batches_seen += 1
            if self.batches_seen % self.every == 0:
                self.invalidate()
        self.batch_in_epoch += 1

    def _observe_legacy(self, users: torch.Tensor, scores: list[torch.Tensor]) -> None:
        idx = self.batch_in_epoch
        if idx % self.every == 0 and idx != 0:
            self.generated_items.fill_(-1)
            for batch_users, items in self.pending:  # a user collected twice keeps its latest items
                self.generated_items[:, batch_users] = items
            self.keeps_observed.fill_(False)
            self.pending = []
            self.invalidate()
        else:
            top = torch.stack([s.topk(self.k, dim=1).indices for s in scores])  # [M, B, k]
            self.pending.append((users.clone(), top))
