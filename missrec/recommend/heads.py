"""Scoring heads: one object per model family that turns histories (or users) into queries and scores items.

A head precomputes the item side once (adaptors, MoE, graph propagation), so a request costs one sequence encoding
plus a matrix product. Every head scores any range or any per-row set of items, so top-k runs over item chunks and
the ``users x items`` matrix never exists:

* :class:`LinearHead`: ``score_j = scale * q . v_j`` (SASRec, UniSRec with normalised ``q`` and ``v``, graph models);
* :class:`MISSRecHead`: the dynamic fusion of per-modality cosines (spec missrec.md §3.6), not an inner product.

For an index, a head gives its ``index_blocks()`` (item tables searched by inner product with the query) and a
``bound_scale`` such that no item scores above ``bound_scale * max_b (q . block_b[j])``: MISSRec's fused score is a
convex mix of its per-modality cosines (and of the ID cosine), so it never exceeds the largest of them.

New items (:meth:`add_items`, inductive models only) are appended to the precomputed tables and are rankable at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from missrec.modules.kmeans import assign


def pad_histories(histories: Sequence[Sequence[int]], max_len: int, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``item_seq [B, L]`` of the ``max_len`` most recent items of each history and ``lengths [B]``."""
    kept = [np.asarray(h, dtype=np.int64)[-max_len:] for h in histories]
    lengths = np.fromiter((len(h) for h in kept), dtype=np.int64, count=len(kept))
    seq = np.zeros((len(kept), max(1, int(lengths.max(initial=0)))), dtype=np.int64)
    seq[np.arange(seq.shape[1]) < lengths[:, None]] = np.concatenate(kept) if kept else []
    return torch.from_numpy(seq).to(device), torch.from_numpy(lengths).to(device)


class LinearHead:
    """``score_j = scale * q . v_j`` over item vectors ``v [N, D]``.

    Args:
        vectors: ``[N, D]`` item vectors (row ``i`` = internal item ``i``).
        scale: positive factor (``1 / tau`` for the cosine models).
        first_item: items below it (PAD) are never recommended.
    """

    inductive = False

    def __init__(self, vectors: torch.Tensor, scale: float = 1.0, first_item: int = 0) -> None:
        self.vectors = vectors.detach()
        self.scale = float(scale)
        self.first_item = first_item

    @property
    def n_items(self) -> int:
        return self.vectors.shape[0]

    def score_range(self, queries: torch.Tensor, start: int, end: int) -> torch.Tensor:
        """Scores ``[B, end - start]`` of items ``start..end-1`` for ``queries [B, D]``."""
        return (queries @ self.vectors[start:end].T) * self.scale

    def score_candidates(self, queries: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """Scores ``[B, C]`` of ``candidates [B, C]`` (item ids per row)."""
        return torch.einsum("bd,bcd->bc", queries, self.vectors[candidates]) * self.scale

    @property
    def bound_scale(self) -> float:
        return self.scale

    def index_blocks(self) -> list[torch.Tensor]:
        """``[[N, D]]``: the item vectors (the score is their inner product with the query, times ``scale``)."""
        return [self.vectors]


class SASRecHead(LinearHead):
    """RecBole's SASRec: ``q = forward(history)``, ``v = item_embedding`` (its ``full_sort_predict``)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__(model.item_embedding.weight, 1.0, first_item=1)
        self.model = model

    def encode(self, item_seq: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``[B, D]`` queries of right-padded histories ``item_seq [B, L]``."""
        return self.model.forward(item_seq, lengths)


class UniSRecHead(LinearHead):
    """UniSRec: ``q = normalize(s)``, ``v = normalize(MoE(x) [+ E])``, scale ``1 / tau`` (spec §8.4).

    The history's item tokens read a precomputed ``MoE(x)`` table (what the model computes in eval mode), so a
    request does not run the adaptor over the whole catalogue and added items can appear in histories.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        with torch.no_grad():
            self.token_table = model.moe_adaptor(model.text_features)  # [N, D]
            vectors = F.normalize(model.item_representations(), dim=-1)
        super().__init__(vectors, 1.0 / model.temperature, first_item=1)
        self.model = model
        self.inductive = model.item_embedding is None
        self.modality_dims = {model.text_modality: int(model.text_features.shape[1])}
        # instance attribute: model.forward reads the table instead of re-running the MoE over every item
        model.sequence_item_embeddings = lambda item_seq, word_drop=None: self.token_table[item_seq]

    def encode(self, item_seq: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.model.forward(item_seq, lengths), dim=-1)

    @torch.no_grad()
    def add_items(self, features: Mapping[str, torch.Tensor]) -> dict:
        """Append items with ``features[text_modality] [n, d]``; returns ``{}`` (UniSRec has no interests)."""
        adapted = self.model.moe_adaptor(features[self.model.text_modality].to(self.vectors.device))  # [n, D]
        self.token_table = torch.cat([self.token_table, adapted])
        self.vectors = torch.cat([self.vectors, F.normalize(adapted, dim=-1)])
        return {}


class GraphHead(LinearHead):
    """Graph models: ``q = users[u]``, ``v = items`` from ``scoring_embeddings()`` (their ``full_sort_predict``)."""

    def __init__(self, model: torch.nn.Module) -> None:
        users, items = model.scoring_embeddings()
        super().__init__(items, 1.0, first_item=0)
        self.users = users.detach()
        self.model = model

    def encode_users(self, users: torch.Tensor) -> torch.Tensor:
        """``[B, D]`` queries of internal user ids ``users [B]``."""
        return self.users[users]


class MISSRecHead:
    """MISSRec: ``score_j = [cos(s, E_j) +] M * fuse_m(cos(s, e^m_j))`` ``[/ (M + 1)]``, divided by tau (§3.6).

    Holds the adapted item embeddings ``modal [M, N, D]`` (sequence tokens), their normalised copy (candidates), the
    normalised ID table (transductive) and the model's fusion and interest buffers.
    """

    first_item = 1

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        with torch.no_grad():
            self.modal = model.modal_item_embeddings()  # [M, N, D]
            self.normed = F.normalize(self.modal, dim=-1)
            self.id_normed = F.normalize(model.item_embedding.weight, dim=-1) if model.use_id else None
        self.modalities = list(model.modalities)
        self.inductive = not model.use_id
        self.modality_dims = {m: int(model.adaptors[m].in_features) for m in self.modalities}
        self.bound_scale = 1.0 / model.temperature

    @property
    def n_items(self) -> int:
        return self.modal.shape[1]

    def encode(self, item_seq: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``s [B, D]`` (L2-normalised) of right-padded histories ``item_seq [B, L]``."""
        return self.model.forward(item_seq, lengths, self.modal)[0]

    def modality_cosines(self, queries: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """``[M, B, C]`` cosine of each query with each candidate's modality embeddings (``candidates [B, C]``)."""
        return torch.einsum("bd,mbcd->mbc", queries, self.normed[:, candidates])

    def fusion_weights(self, cosines: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        """Per-modality fusion weights ``[M, ...]`` (sum 1 over M) of ``cosines [M, ...]`` (§3.6)."""
        fusion = self.model.fusion
        if fusion.mode == "static":
            return torch.full_like(cosines, 1.0 / cosines.shape[0])
        factor = fusion.fusion_factor if fusion.mode == "dynamic_shared" or items is None else fusion.fusion_factor[items]
        return torch.softmax(factor * cosines, dim=0)

    def _final(self, fused: torch.Tensor, id_cos: torch.Tensor | None) -> torch.Tensor:
        if id_cos is not None:
            m = len(self.modalities)
            fused = (id_cos + m * fused) / (m + 1)
        return fused / self.model.temperature

    def score_range(self, queries: torch.Tensor, start: int, end: int) -> torch.Tensor:
        cosines = queries @ self.normed[:, start:end].transpose(1, 2)  # [M, B, C]
        fused = self.model.fusion(cosines, item_index=torch.arange(start, end, device=queries.device))
        id_cos = queries @ self.id_normed[start:end].T if self.id_normed is not None else None
        return self._final(fused, id_cos)

    def score_candidates(self, queries: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        fused = self.model.fusion(self.modality_cosines(queries, candidates), item_index=candidates)
        id_cos = torch.einsum("bd,bcd->bc", queries, self.id_normed[candidates]) if self.id_normed is not None else None
        return self._final(fused, id_cos)

    def index_blocks(self) -> list[torch.Tensor]:
        """The normalised tables ``[N, D]`` of each modality (and the ID table): a score is at most the largest of
        the query's cosines with them, divided by tau."""
        return [*self.normed, *([self.id_normed] if self.id_normed is not None else [])]

    @torch.no_grad()
    def add_items(self, features: Mapping[str, torch.Tensor]) -> dict:
        """Append items with raw ``features {modality: [n, d_m]}`` (every modality of the model).

        Each new item's adapted embedding in each modality joins the nearest existing interest centroid (Euclidean,
        as interest discovery assigns points, §3.3); the centroids themselves do not move, so the trained model's
        interest tokens mean what they meant in training. With per-item fusion factors (``dynamic_instance``) a new
        item gets the mean factor.

        Returns:
            ``{"interests": [n, M]}``: the interest cluster id of each new item in each modality.
        """
        device = self.modal.device
        adapted = torch.stack([self.model.adaptors[m](features[m].to(device).float()) for m in self.modalities])  # [M, n, D]
        m, n, d = adapted.shape
        labels, _ = assign(adapted.reshape(-1, d), self.model.interest_embeddings[1:])
        lookup = labels.view(m, n) + 1  # id 0 is padding
        self.model.interest_lookup = torch.cat([self.model.interest_lookup, lookup], dim=1)
        self.modal = torch.cat([self.modal, adapted], dim=1)
        self.normed = torch.cat([self.normed, F.normalize(adapted, dim=-1)], dim=1)
        fusion = self.model.fusion
        if fusion.mode == "dynamic_instance":
            factor = fusion.fusion_factor.data
            fusion.fusion_factor = torch.nn.Parameter(torch.cat([factor, factor[1:].mean().expand(n)]), requires_grad=False)
        return {"interests": lookup.T.tolist()}
