"""Training batches for pairwise (BPR) general recommenders, sampled per epoch and kept on the device.

Two samplers (graph_models.md §5):

* ``interaction`` (MMRec): every training pair once per epoch, shuffled;
* ``user`` (LATTICE/MICRO/MMSSL): ``n_train // B + 1`` batches of ``B`` distinct random users, each with one random
  training item.

Negatives are drawn uniformly from ``neg_pool`` (``all`` items, LATTICE/MMSSL; or the items that occur in training,
``train``, MMRec) and rejected while they are in the user's training set. An epoch's whole sample is drawn on the
host with ``numpy.random.default_rng([seed, epoch])`` (reproducible and device-independent), moved to the device
once, and sliced into :class:`~recbole.data.interaction.Interaction` batches.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from recbole.data.interaction import Interaction

from missrec.data.general.dataset import GeneralDataset

SAMPLERS = ("interaction", "user")
NEG_POOLS = ("all", "train")
MAX_REJECTION_ROUNDS = 1000


class BPRTrainLoader:
    """Batches of ``{user_field: [B], item_field: [B] (positive), neg_field: [B]}`` (no negatives if disabled).

    Args:
        dataset: the general dataset (its train split is sampled).
        batch_size: rows per batch.
        device: where batches live.
        seed: base seed; epoch ``e`` uses ``default_rng([seed, e])``.
        fields: ``(user_field, item_field, neg_field)`` names (RecBole's ``USER_ID_FIELD`` ...).
        negatives: draw one negative per row (False for BM3).
        sampler: ``interaction`` or ``user`` (see module doc).
        neg_pool: ``all`` or ``train``.
    """

    def __init__(
        self,
        dataset: GeneralDataset,
        batch_size: int,
        device: torch.device | str,
        seed: int = 0,
        fields: tuple[str, str, str] = ("user_id", "item_id", "neg_item_id"),
        negatives: bool = True,
        sampler: str = "interaction",
        neg_pool: str = "all",
    ) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown train sampler '{sampler}'; known: {list(SAMPLERS)}")
        if neg_pool not in NEG_POOLS:
            raise ValueError(f"unknown negative pool '{neg_pool}'; known: {list(NEG_POOLS)}")
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.seed = seed
        self.fields = fields
        self.negatives = negatives
        self.sampler = sampler
        self.n_items = dataset.n_items
        self.train = dataset.splits["train"]  # [E, 2] sorted by (user, item)
        self.keys = self.train[:, 0] * self.n_items + self.train[:, 1]  # sorted: membership by searchsorted
        self.indptr, self.indices = dataset.user_items("train")
        self.active_users = np.flatnonzero(np.diff(self.indptr) > 0)
        self.pool = np.arange(self.n_items) if neg_pool == "all" else np.unique(self.train[:, 1])
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.train)
        if self.sampler == "user":
            return n // self.batch_size + 1
        return (n + self.batch_size - 1) // self.batch_size

    def set_epoch(self, epoch: int) -> None:
        """Select the sample of ``epoch``."""
        self.epoch = epoch

    def is_train_pair(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Whether each ``(user, item)`` is a training interaction."""
        query = users * self.n_items + items
        pos = np.searchsorted(self.keys, query).clip(max=len(self.keys) - 1)
        return self.keys[pos] == query

    def sample_negatives(self, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One negative per user from the pool, resampled while it is a training item of that user."""
        neg = self.pool[rng.integers(0, len(self.pool), len(users))]
        todo = np.flatnonzero(self.is_train_pair(users, neg))
        for _ in range(MAX_REJECTION_ROUNDS):
            if todo.size == 0:
                return neg
            neg[todo] = self.pool[rng.integers(0, len(self.pool), todo.size)]
            todo = todo[self.is_train_pair(users[todo], neg[todo])]
        raise ValueError(f"users {users[todo][:5].tolist()} have interacted with (almost) every item of the negative pool")

    def epoch_sample(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(users, positives, negatives)`` of the current epoch, in batch order."""
        rng = np.random.default_rng([self.seed, self.epoch])
        if self.sampler == "interaction":
            order = rng.permutation(len(self.train))
            users, pos = self.train[order, 0], self.train[order, 1]
        else:
            n_active, batches = len(self.active_users), len(self)
            if self.batch_size <= n_active:
                picks = [rng.permutation(n_active)[: self.batch_size] for _ in range(batches)]
            else:
                picks = [rng.integers(0, n_active, self.batch_size) for _ in range(batches)]
            users = self.active_users[np.concatenate(picks)]
            degree = self.indptr[users + 1] - self.indptr[users]
            pos = self.indices[self.indptr[users] + (rng.random(len(users)) * degree).astype(np.int64)]
        neg = self.sample_negatives(users, rng) if self.negatives else None
        return users, pos, neg

    def __iter__(self) -> Iterator[Interaction]:
        users, pos, neg = self.epoch_sample()
        columns = [users, pos] + ([neg] if neg is not None else [])
        tensors = [torch.from_numpy(np.ascontiguousarray(c)).to(self.device) for c in columns]
        for start in range(0, len(users), self.batch_size):
            named = zip(self.fields[: len(tensors)], tensors, strict=True)
            batch = {name: t[start : start + self.batch_size] for name, t in named}
            yield Interaction(batch)
