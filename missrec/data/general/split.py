"""Seeded splits: MMRec's per-user random 8:1:1 split and a validation split carved out of a training set.

Both deduplicate and sort the pairs first, so the result depends only on the set of pairs and the seed (not on the
input order), and are vectorised (one sort).
"""

from __future__ import annotations

import numpy as np

TRAIN, VALID, TEST = 0, 1, 2


def _shuffled_ranks(users: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order grouping rows by user in random order inside each user; rank of each row in it; its user's count."""
    order = np.lexsort((rng.random(len(users)), users))  # by user, then random key
    sorted_users = users[order]
    counts = np.bincount(users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(users)) - starts[sorted_users]
    return order, rank, counts[sorted_users]


def mmrec_labels(rank: np.ndarray, n: np.ndarray) -> np.ndarray:
    """x_label of the row at position ``rank`` (0-based, shuffled) of a user with ``n`` interactions.

    MMRec's ``1splitting.ipynb`` (graph_models.md §1.1): n < 10: n-2 train, 1 valid, 1 test (fewer than 3: the
    last n of those labels); otherwise ``int(0.2 n)`` held out, ``int(0.2 n) // 2`` of them valid, the rest test.
    """
    held = np.where(n < 10, np.minimum(n, 2), (0.2 * n).astype(np.int64))
    valid = np.where(n < 10, np.minimum(n, 2) - 1, held // 2)
    first_held = n - held
    label = np.full(rank.shape, TRAIN, dtype=np.int64)
    label[rank >= first_held] = VALID
    label[rank >= first_held + valid] = TEST
    return label


def random_user_split(pairs: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-user random 8:1:1 split of ``(user, item)`` rows ``[E, 2]``: ``(train, valid, test)``."""
    pairs = np.unique(np.asarray(pairs, dtype=np.int64).reshape(-1, 2), axis=0)
    rng = np.random.default_rng(seed)
    order, rank, n = _shuffled_ranks(pairs[:, 0], rng)
    label = mmrec_labels(rank, n)
    rows = pairs[order]
    return rows[label == TRAIN], rows[label == VALID], rows[label == TEST]


def carve_validation(train: np.ndarray, ratio: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Move ``max(1, round(ratio * n))`` random training rows of every user with ``n >= 3`` into a validation split.

    For datasets shipped without one (SGFD): the test set then never selects a model. Users with fewer than 3
    training rows keep them all.

    Returns:
        ``(train, valid)`` row arrays.
    """
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"validation ratio must be in (0, 1), got {ratio}")
    train = np.unique(np.asarray(train, dtype=np.int64).reshape(-1, 2), axis=0)
    rng = np.random.default_rng(seed)
    order, rank, n = _shuffled_ranks(train[:, 0], rng)
    n_valid = np.where(n >= 3, np.maximum(1, np.rint(ratio * n).astype(np.int64)), 0)
    n_valid = np.minimum(n_valid, n - 1)
    is_valid = rank >= n - n_valid
    rows = train[order]
    return rows[~is_valid], rows[is_valid]
