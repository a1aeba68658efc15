"""Named subsets of a test split, reported beside the whole split (e.g. test targets that pre-training never saw).

A subset file ``<dataset>.test_<subset>`` sits in the dataset folder, TAB-separated with header
``user_id:token  item_id:token  <flag>:token``: one line per test row, flag 1 when the row belongs to the subset.
``MLLatest_mm_full.test_new_items`` flags the users whose test movie is not in the pre-training corpus
(``python -m missrec.data.prepare.mllatest``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from recbole.data.interaction import Interaction

from missrec.errors import data_error

SUBSET_PREFIX = "test_"


def subset_files(folder: Path, dataset: str) -> dict[str, Path]:
    """``{subset name: file}`` for every ``<dataset>.test_<name>`` in ``folder``."""
    prefix = f"{dataset}.{SUBSET_PREFIX}"
    return {p.name[len(prefix):]: p for p in sorted(folder.glob(prefix + "*")) if p.is_file()}


def subset_rows(path: Path, rows: Interaction, user_tokens: list[str], item_tokens: list[str],
                user_field: str, item_field: str) -> torch.Tensor:
    """Indices ``[n]`` of the test rows the file flags, after checking the file describes these rows.

    Args:
        path: the subset file.
        rows: the test split (internal ids).
        user_tokens / item_tokens: internal id -> token, the dataset's ``field2id_token``.
        user_field / item_field: the user and target-item fields of ``rows``.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or len(lines[0].split("\t")) != 3:
        raise data_error(path, "a header user_id:token<TAB>item_id:token<TAB><flag>:token",
                         lines[0] if lines else "nothing", "rebuild the dataset folder")
    flagged: dict[str, tuple[str, bool]] = {}
    for number, line in enumerate(lines[1:], 2):
        parts = line.split("\t")
        if len(parts) != 3 or parts[2] not in ("0", "1"):
            raise data_error(path, "user<TAB>item<TAB>0|1", f"line {number}: {line!r}", "rebuild the dataset folder")
        flagged[parts[0]] = (parts[1], parts[2] == "1")
    keep = []
    for index, (user, item) in enumerate(zip(rows[user_field].tolist(), rows[item_field].tolist(), strict=True)):
        token = user_tokens[user]
        if token not in flagged or flagged[token][0] != item_tokens[item]:
            raise data_error(path, f"user {token} with test item {item_tokens[item]}",
                             f"{flagged.get(token, ('no line',))[0]}", "the file belongs to another build of the "
                             "dataset: rebuild the dataset folder")
        if flagged[token][1]:
            keep.append(index)
    return torch.tensor(keep, dtype=torch.long)
