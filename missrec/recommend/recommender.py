"""``Recommender``: top-k items out of a trained model, by history or by user, with new items and explanations.

>>> rec = Recommender.from_run("runs/missrec-ml100k-inductive")     # README, section Recommend
>>> rec.recommend(["1", "993", "538"], k=10)                          # raw item ids, oldest first
[Recommendation(item_id='294', score=7.8697, text='Liar Liar (1997) Comedy'), ...]
>>> rec.add_items(["toy-story-2"], texts=["Toy Story 2 (1999) Animation, Children's, Comedy"])

Sequential models (MISSRec, UniSRec, SASRec) rank for any history and for known users (their latest history); the
graph models rank for known users. Scoring is exact over item chunks (:mod:`missrec.recommend.topk`); with
:meth:`Recommender.build_index` faiss proposes candidates that the model re-scores
(:mod:`missrec.recommend.retrieval`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from missrec.recommend import heads, new_items
from missrec.recommend.errors import RecommendError, check_k
from missrec.recommend.loading import LoadedModel, load_model, load_run
from missrec.recommend.topk import chunked_topk, exclusion_pairs

HEADS = {"MISSRec": heads.MISSRecHead, "UniSRec": heads.UniSRecHead, "SASRec": heads.SASRecHead}


class Recommendation(NamedTuple):
    """One ranked item: raw id, the model's score, its text."""

    item_id: str
    score: float
    text: str


class Recommender:
    """Serve a loaded model; build it with :meth:`from_run` or :meth:`from_checkpoint`.

    Args:
        loaded: the model, its config, catalogue and users (:mod:`missrec.recommend.loading`).
        chunk_items: items scored at once (default: 4M scores per chunk).
    """

    def __init__(self, loaded: LoadedModel, chunk_items: int | None = None) -> None:
        self.loaded = loaded
        self.model = loaded.model
        self.model_name = loaded.model_name
        self.catalogue = loaded.catalogue
        self.users = loaded.users
        self.sequential = loaded.kind == "sequential"
        self.max_len = int(loaded.config["MAX_ITEM_LIST_LENGTH"]) if self.sequential else 0
        self.device = torch.device(loaded.config["device"])
        self.chunk_items = chunk_items
        self.index = None  # a CandidateIndex after build_index
        if self.sequential and self.model_name not in HEADS:
            raise RecommendError(f"recommend: no scoring head for the sequential model {self.model_name}; supported: {sorted(HEADS)}")
        with torch.no_grad():
            self.head = HEADS[self.model_name](self.model) if self.sequential else heads.GraphHead(self.model)
        self.load_seconds = dict(loaded.seconds)

    # ---- construction ------------------------------------------------------------------------------------------
    @classmethod
    def from_run(
        cls, run_dir: str | Path, device: str = "cpu", overrides: Mapping[str, Any] | None = None, chunk_items: int | None = None
    ) -> Recommender:
        """Load ``runs/<run>/``: its ``config.json``, ``checkpoints/best`` and the dataset it names.

        ``overrides`` replace config keys (e.g. ``{"data_path": ...}`` when the data moved)."""
        return cls(load_run(run_dir, device, overrides), chunk_items)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        dataset: str | None = None,
        device: str = "cpu",
        overrides: Mapping[str, Any] | None = None,
        props: Sequence[str | Path] = (),
        chunk_items: int | None = None,
    ) -> Recommender:
        """Load a checkpoint (``.safetensors`` + ``.json``) on ``dataset`` (default: the one it records); the model is
        built from the props plus ``overrides``, or from the run's ``config.json`` when the checkpoint sits in a run
        folder (``<run>/checkpoints/best``)."""
        path = Path(path)
        run_config = path.parent.parent / "config.json"
        saved = None
        if run_config.is_file() and path.parent.name == "checkpoints":
            import json

            saved = json.loads(run_config.read_text(encoding="utf-8"))
        return cls(load_model(path, dataset, saved, overrides, props, device), chunk_items)

    # ---- requests --------------------------------------------------------------------------------------------
    def recommend(
        self, history: Sequence[object], k: int = 10, exclude_history: bool = True, skip_unknown: bool = False
    ) -> list[Recommendation]:
        """Top ``k`` items after ``history`` (raw item ids, oldest first), best first.

        Args:
            history: raw item ids; unknown ids are an error listing them, or dropped with ``skip_unknown``.
            k: items to return (>= 1).
            exclude_history: leave the history's items out of the ranking.
        """
        return next(self.recommend_many([history], k=k, exclude_history=exclude_history, skip_unknown=skip_unknown))[1]

    def recommend_user(self, user: object, k: int = 10, exclude_history: bool = True) -> list[Recommendation]:
        """Top ``k`` items for a known user (raw user id); ``exclude_history`` leaves out every item they rated."""
        return next(self.recommend_many(users=[user], k=k, exclude_history=exclude_history))[1]

    def recommend_many(
        self,
        histories: Sequence[Sequence[object]] | None = None,
        users: Sequence[object] | None = None,
        k: int = 10,
        exclude_history: bool = True,
        batch_size: int = 256,
        skip_unknown: bool = False,
    ) -> Iterator[tuple[object, list[Recommendation]]]:
        """Stream ``(key, top-k)`` for many histories or users, ``batch_size`` at a time, in input order.

        The key is the user id (``users``) or the position of the history (``histories``). Memory stays at one
        batch of queries and one chunk of scores whatever the number of users and items. The arguments are checked
        at the call; an unknown id or user is reported when its batch is reached.
        """
        k = check_k(k)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise RecommendError(f"batch_size: expected a positive integer (queries encoded at once), found {batch_size!r}")
        if (histories is None) == (users is None):
            raise RecommendError("recommend_many: give either histories or users (not both, not neither)")
        return self._stream(histories, users, k, exclude_history, batch_size, skip_unknown)

    def _stream(self, histories, users, k: int, exclude_history: bool, batch_size: int, skip_unknown: bool):
        keys: Sequence[object] = list(range(len(histories))) if histories is not None else list(users)
        for start in range(0, len(keys), batch_size):
            part = keys[start : start + batch_size]
            if histories is not None:
                fields = ["history"] if len(keys) == 1 else [f"history {n}" for n in part]  # n: position in the input
                queries, excluded = self._history_queries(histories[start : start + batch_size], fields, exclude_history, skip_unknown)
            else:
                queries, excluded = self._user_queries(part, exclude_history)
            scores, items = self._topk(queries, excluded, k)
            for key, row_scores, row_items in zip(part, scores.tolist(), items.tolist(), strict=True):
                yield key, self._rows(row_scores, row_items)

    def user_history(self, user: object) -> list[str]:
        """Raw item ids of a known user's latest history, oldest first (sequential models)."""
        if not self.sequential:
            raise RecommendError(f"user: {self.model_name} has no sequence encoder, so users have no history to explain")
        return [self.catalogue.raw_ids[i] for i in self.users.latest_history(self.users.internal(user))]

    def all_users(self) -> list[str]:
        """Raw ids of every known user."""
        return [self.users.raw_ids[u] for u in self.users.all_internal()]

    # ---- new items -------------------------------------------------------------------------------------------
    def add_items(
        self,
        ids: Sequence[object],
        texts: Sequence[str] | None = None,
        features: Mapping[str, Any] | None = None,
        text_encoder: Any = "minilm",
    ) -> dict[str, Any]:
        """Add items the model never saw (inductive MISSRec / UniSRec); they are rankable at once.

        Args:
            ids: new raw ids (an id already in the catalogue is refused).
            texts: one text per item; encoded by ``text_encoder`` into the text modality unless ``features`` has it.
            features: ``{modality: [n, d_m]}`` precomputed raw features; missing modalities are zero rows.
            text_encoder: name in :mod:`missrec.encoders` or an encoder object (dimension must match).

        Returns:
            ``{"items": [internal ids], "interests": [[cluster per modality] per item]}`` (MISSRec) .
        """
        if not getattr(self.head, "inductive", False):
            mode = "graph" if not self.sequential else ("item-ID" if self.model_name != "SASRec" else "ID-only")
            raise RecommendError(
                f"add_items: {self.model_name} here is a {mode} model: new items have no trained embedding. Fix: "
                "use an inductive MISSRec or UniSRec run (finetune.py -mode inductive), or retrain with the new items"
            )
        self.catalogue.check_new(ids, texts)  # refuses existing ids before any encoding
        dims = self.head.modality_dims
        given = dict(features or {})
        preferred = getattr(self.model, "text_modality", None)
        if texts is not None and (preferred or new_items.TEXT_MODALITY) in dims:
            modality = preferred or new_items.TEXT_MODALITY
            if modality not in given:
                given[modality] = new_items.encode_texts(texts, modality, dims[modality], text_encoder)
        elif texts is not None and not given:
            new_items.text_modality_of(dims, preferred)  # the error naming the model's modalities
        if not given:
            raise RecommendError("add_items: give texts=[...] or features={modality: array} for the new items")
        tables = new_items.check_features(given, dims, len(ids))
        new = self.catalogue.add(ids, texts)
        report = self.head.add_items(tables)
        if self.index is not None:
            self.index.add(self.head, new.start)
        return {"items": list(new), **report}

    # ---- explanations ----------------------------------------------------------------------------------------
    def explain(
        self,
        history: Sequence[object] | None = None,
        k: int = 10,
        exclude_history: bool = True,
        skip_unknown: bool = False,
        members: int = 3,
        user: object | None = None,
    ) -> dict[str, Any]:
        """Top ``k`` for ``history`` (or a known ``user``'s latest history, excluding every item they saw) with
        MISSRec's explanation (:mod:`missrec.recommend.explain`); ``members`` central titles per interest."""
        from missrec.recommend.explain import explain_history

        if not isinstance(self.head, heads.MISSRecHead):
            raise RecommendError(f"explain: explanations are MISSRec's interests and fusion; this run is {self.model_name}")
        k = check_k(k)
        if (history is None) == (user is None):
            raise RecommendError("explain: give either a history or a user")
        if user is not None:
            internal = [int(i) for i in self.users.latest_history(self.users.internal(user))]
            excluded = [self.users.seen_items(self.users.internal(user))] if exclude_history else None
        else:
            internal = self._internal_history(history, skip_unknown, "history")
            excluded = [np.asarray(internal)] if exclude_history else None
        queries, _ = self._queries([internal], False)
        scores, items = self._topk(queries, excluded, k)
        rows = self._rows(scores[0].tolist(), items[0].tolist())
        return explain_history(self.head, self.catalogue, internal, items[0, : len(rows)].tolist(),
                               [r.score for r in rows], self.max_len, members)

    # ---- catalogue scale -------------------------------------------------------------------------------------
    def build_index(self, kind: str | None = "flat", candidates: int = 100, **params: Any) -> None:
        """Put faiss indexes in front of the exact score (:mod:`missrec.recommend.retrieval`): ``flat`` (exact,
        certified), ``ivf`` or ``hnsw`` (approximate; :class:`~missrec.recommend.ann.AnnIndex` takes ``params``).
        Each index proposes ``max(candidates, k)`` items plus the excluded ones; ``kind=None`` goes back to exact
        chunked scoring."""
        from missrec.recommend.retrieval import CandidateIndex

        self.index = None if kind is None else CandidateIndex(self.head, kind, candidates, **params)

    # ---- internals ---------------------------------------------------------------------------------------------
    def _internal_history(self, history: Sequence[object], skip_unknown: bool, field: str) -> list[int]:
        if not self.sequential:
            raise RecommendError(
                f"{field}: {self.model_name} ranks items for known users only (it has no sequence encoder). "
                "Fix: recommend_user(USER) / --user USER / --all-users"
            )
        if isinstance(history, (str, bytes)):
            raise RecommendError(f"{field}: expected a list of item ids, found the string {history!r}. Fix: [{history!r}]")
        internal = self.catalogue.internal(history, field, skip_unknown)
        if not internal:
            why = "every id was unknown and skipped" if len(history) else "it is empty"
            raise RecommendError(
                f"{field}: a sequential model needs at least one item to encode, but {why}. Fix: give the user's items, "
                "oldest first (or recommend for a known user)"
            )
        return internal

    def _history_queries(self, histories, fields, exclude: bool, skip_unknown: bool) -> tuple[torch.Tensor, list | None]:
        return self._queries([self._internal_history(h, skip_unknown, f) for h, f in zip(histories, fields, strict=True)], exclude)

    def _queries(self, internal: Sequence[Sequence[int]], exclude: bool) -> tuple[torch.Tensor, list | None]:
        item_seq, lengths = heads.pad_histories(internal, self.max_len, self.device)
        with torch.no_grad():
            queries = self.head.encode(item_seq, lengths)
        return queries, [np.asarray(h) for h in internal] if exclude else None

    def _user_queries(self, raw_users: Sequence[object], exclude: bool) -> tuple[torch.Tensor, list | None]:
        users = [self.users.internal(u) for u in raw_users]
        excluded = [self.users.seen_items(u) for u in users] if exclude else None
        if not self.sequential:
            return self.head.encode_users(torch.as_tensor(users, device=self.device)), excluded
        queries, _ = self._queries([self.users.latest_history(u) for u in users], False)
        return queries, excluded

    def _topk(self, queries: torch.Tensor, excluded: list | None, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        pairs = exclusion_pairs(excluded, self.device)
        head = self.head
        if self.index is None:
            return chunked_topk(head.score_range, queries, head.n_items, k, head.first_item, pairs, self.chunk_items)
        most_excluded = max((len(e) for e in excluded), default=0) if excluded else 0
        return self.index.topk(head, queries, k, pairs, most_excluded)

    def _rows(self, scores: Sequence[float], items: Sequence[int]) -> list[Recommendation]:
        """Ranked rows of one query (``-inf`` scores: nothing left to rank)."""
        raw, texts = self.catalogue.raw_ids, self.catalogue.texts
        return [Recommendation(raw[i], s, texts[i]) for s, i in zip(scores, items, strict=True) if s != float("-inf")]

