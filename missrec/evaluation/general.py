"""Full-ranking top-K evaluation for general (user-item) recommenders (graph_models.md §2).

Every evaluated user ranks ALL items. Items the user interacted with in the masked splits (always ``train``; also
``valid`` when evaluating ``test`` with ``mask_valid=True``) are excluded with ``-inf``. The metrics are
:func:`missrec.evaluation.metrics.ranking_metric_sums` (standard Recall/Precision/NDCG, MMRec's definitions) on the
top ``max(topk)`` items, averaged over the users that have at least one item in the split (and, by default, at least
one training item: MMRec drops cold-start users).

Memory: users are scored ``batch_size`` at a time (``model.full_sort_predict`` returns ``[B, I]``) and only each
chunk's top ``max(topk)`` indices are kept, so the ``U x I`` score matrix never exists.

Protocol notes:

* MMRec, LATTICE/MICRO/MMSSL and SGFD all mask only training items when scoring the test set (§2); so does the
  default here, to compare with their tables. ``mask_valid=True`` also masks the validation items, as RecBole does.
* ``hit_normalised_ndcg`` is LATTICE/MICRO/MMSSL's NDCG (§2.2); it depends on ``max(topk)``: they used [10, 20]
  (LATTICE, MICRO) and [10, 20, 50] (MMSSL).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from recbole.data.interaction import Interaction
from tqdm import tqdm

from missrec.data.general.dataset import GeneralDataset
from missrec.evaluation.metrics import ranking_metric_sums


def gather_rows(indptr: torch.Tensor, indices: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Entries of CSR rows ``rows [B]``: ``(position in rows [n], column [n])`` without a Python loop."""
    starts = indptr[rows]
    counts = indptr[rows + 1] - starts  # [B]
    row_pos = torch.repeat_interleave(torch.arange(len(rows), device=rows.device), counts)
    offsets = torch.arange(int(counts.sum()), device=rows.device) - torch.repeat_interleave(counts.cumsum(0) - counts, counts)
    return row_pos, indices[torch.repeat_interleave(starts, counts) + offsets]


def merged_csr(dataset: GeneralDataset, splits: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """CSR (``indptr [U+1]``, ``indices``) of the union of ``splits``."""
    pairs = np.concatenate([dataset.splits[s] for s in splits])
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    pairs = pairs[order]
    indptr = np.zeros(dataset.n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(pairs[:, 0], minlength=dataset.n_users), out=indptr[1:])
    return indptr, pairs[:, 1]


class TopKEvaluator:
    """Evaluate a general model on one split (``run(model) -> {"recall@20": ...}``), the trainer's evaluator.

    Args:
        dataset: the general dataset.
        split: ``valid`` or ``test``.
        topk: cutoffs K (e.g. [10, 20]).
        metrics: names for :func:`ranking_metric_sums` (``recall``, ``precision``, ``ndcg``, ``hit``, ``mrr``).
        device: where scores and masks live.
        batch_size: users per ``full_sort_predict`` call.
        user_field: the user id field of the :class:`Interaction` given to the model.
        mask_valid: also mask validation items (only meaningful for ``split="test"``).
        hit_normalised_ndcg: LATTICE/MMSSL's legacy NDCG.
        filter_cold_start: skip users without training items (MMRec's default).
    """

    def __init__(
        self,
        dataset: GeneralDataset,
        split: str,
        topk: Sequence[int],
        metrics: Sequence[str],
        device: torch.device | str,
        batch_size: int = 4096,
        user_field: str = "user_id",
        mask_valid: bool = False,
        hit_normalised_ndcg: bool = False,
        filter_cold_start: bool = True,
    ) -> None:
        if split not in ("valid", "test"):
            raise ValueError(f"split must be 'valid' or 'test', got {split!r}")
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.device = torch.device(device)
        self.topk = sorted(int(k) for k in topk)
        self.metrics = [m.lower() for m in metrics]
        self.batch_size = batch_size
        self.user_field = user_field
        self.hit_normalised_ndcg = hit_normalised_ndcg
        self.n_items = dataset.n_items
        pairs = dataset.splits[split]
        users = np.unique(pairs[:, 0])
        if filter_cold_start:
            train_users = np.unique(dataset.splits["train"][:, 0])
            users = users[np.isin(users, train_users)]
            pairs = pairs[np.isin(pairs[:, 0], users)]
        if len(users) == 0:
            raise ValueError(f"the {split} split has no user to evaluate")
        masked = ["train", "valid"] if (mask_valid and split == "test") else ["train"]
        indptr, indices = merged_csr(dataset, masked)
        self.users = torch.from_numpy(users).to(self.device)  # [n_eval]
        self.n_pos = torch.from_numpy(np.bincount(pairs[:, 0], minlength=dataset.n_users)[users]).to(self.device)
        self.pos_keys = torch.from_numpy(np.sort(pairs[:, 0] * self.n_items + pairs[:, 1])).to(self.device)
        self.mask_indptr = torch.from_numpy(indptr).to(self.device)
        self.mask_indices = torch.from_numpy(indices).to(self.device)
        self.split = split
        self.masked_splits = masked

    def __len__(self) -> int:
        return int(self.users.numel())

    @torch.no_grad()
    def top_items(self, model: torch.nn.Module, users: torch.Tensor) -> torch.Tensor:
        """The top ``max(topk)`` unmasked items ``[B, K]`` of ``users [B]``, best first."""
        scores = model.full_sort_predict(Interaction({self.user_field: users})).float()  # [B, I]
        if scores.shape != (len(users), self.n_items):
            raise ValueError(f"full_sort_predict returned {tuple(scores.shape)}, expected [{len(users)}, {self.n_items}]")
        rows, cols = gather_rows(self.mask_indptr, self.mask_indices, users)
        scores = scores.index_put((rows, cols), torch.tensor(float("-inf"), device=scores.device))
        return scores.topk(min(max(self.topk), self.n_items), dim=1).indices

    @torch.no_grad()
    def run(self, model: torch.nn.Module, show_progress: bool = False, desc: str = "Evaluate") -> dict[str, float]:
        """Evaluate ``model`` and return ``{"recall@20": value, ...}`` averaged over the evaluated users."""
        model.eval()
        sums: dict[str, float] = {}
        starts = range(0, len(self), self.batch_size)
        for start in tqdm(starts, desc=desc, ncols=100, leave=False, disable=not show_progress):
            users = self.users[start : start + self.batch_size]
            top = self.top_items(model, users)  # [B, K]
            keys = users.unsqueeze(1) * self.n_items + top
            hits = torch.isin(keys, self.pos_keys)  # [B, K]
            if hits.shape[1] < max(self.topk):  # fewer items than the cutoff: pad with misses
                hits = torch.cat([hits, hits.new_zeros(hits.shape[0], max(self.topk) - hits.shape[1])], 1)
            part = ranking_metric_sums(hits, self.n_pos[start : start + self.batch_size], self.topk, self.metrics, self.hit_normalised_ndcg)
            for key, value in part.items():
                sums[key] = sums.get(key, 0.0) + value
        return {key: value / len(self) for key, value in sums.items()}
