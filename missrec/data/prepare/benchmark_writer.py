"""Write user sequences in the exact UniSRec/MISSRec benchmark layout.

Layout (spec missrec.md §4.1-§4.2), for a dataset ``<ds>`` in folder ``<out>``:

* ``<ds>.train.inter`` / ``.valid.inter`` / ``.test.inter``: TAB-separated, header
  ``user_id:token<TAB>item_id_list:token_seq<TAB>item_id:token``; tokens are the 0-based integer indices of
  ``.user2index`` / ``.item2index``; ``item_id_list`` is space-separated, oldest first, the last ``max_len`` items.
* Leave-one-out: with a user's time-ordered items ``s_1..s_n`` the train rows predict ``s_t`` from
  ``s_1..s_{t-1}`` for t = 2..n-2 (n - 3 rows), the valid row predicts ``s_{n-1}`` from ``s_1..s_{n-2}`` and the test
  row predicts ``s_n`` from ``s_1..s_{n-1}``.
* ``<ds>.item2index`` / ``<ds>.user2index``: ``raw_id<TAB>index``, no header.

Every file is written atomically; users with fewer than 3 interactions cannot be split and are rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from missrec.errors import DataError
from missrec.io_utils import atomic_open

INTER_HEADER = "user_id:token\titem_id_list:token_seq\titem_id:token\n"
SPLITS = ("train", "valid", "test")


def _history(items: Sequence[int], end: int, max_len: int) -> str:
    return " ".join(str(i) for i in items[max(0, end - max_len) : end])


def write_benchmark(
    out_dir: str | Path,
    name: str,
    sequences: Sequence[Sequence[int]],
    user_ids: Sequence[str],
    item_ids: Sequence[str],
    max_len: int = 50,
) -> dict[str, int]:
    """Write the three split files and both id maps.

    Args:
        out_dir: folder to write into (created if missing).
        name: dataset name ``<ds>``; files are ``<out_dir>/<ds>.<suffix>``.
        sequences: ``sequences[u]`` is user ``u``'s time-ordered list of item indices (indices into ``item_ids``).
        user_ids: raw user id of each user index.
        item_ids: raw item id of each item index.
        max_len: history length kept in ``item_id_list`` (UniSRec: 50).

    Returns:
        Row counts per split, e.g. ``{"train": 97171, "valid": 943, "test": 943}``.
    """
    if len(sequences) != len(user_ids):
        raise ValueError(f"{len(sequences)} sequences but {len(user_ids)} user ids")
    short = [user_ids[u] for u, seq in enumerate(sequences) if len(seq) < 3]
    if short:
        raise DataError(
            f"{len(short)} users have fewer than 3 interactions (e.g. {short[:3]}): leave-one-out needs at least 3. "
            "Fix: filter users to >= 3 interactions (a 5-core filter does) before writing"
        )
    out_dir = Path(out_dir)
    counts = dict.fromkeys(SPLITS, 0)
    with (
        atomic_open(out_dir / f"{name}.train.inter") as train,
        atomic_open(out_dir / f"{name}.valid.inter") as valid,
        atomic_open(out_dir / f"{name}.test.inter") as test,
    ):
        for f in (train, valid, test):
            f.write(INTER_HEADER)
        for u, seq in enumerate(sequences):
            n = len(seq)
            for t in range(1, n - 2):
                train.write(f"{u}\t{_history(seq, t, max_len)}\t{seq[t]}\n")
            valid.write(f"{u}\t{_history(seq, n - 2, max_len)}\t{seq[n - 2]}\n")
            test.write(f"{u}\t{_history(seq, n - 1, max_len)}\t{seq[n - 1]}\n")
            counts["train"] += n - 3
            counts["valid"] += 1
            counts["test"] += 1
    write_index(out_dir / f"{name}.user2index", user_ids)
    write_index(out_dir / f"{name}.item2index", item_ids)
    return counts


def write_index(path: str | Path, raw_ids: Sequence[str]) -> None:
    """Write an id map ``raw_id<TAB>index`` (no header), index = position in ``raw_ids``."""
    with atomic_open(path) as f:
        for index, raw in enumerate(raw_ids):
            f.write(f"{raw}\t{index}\n")
