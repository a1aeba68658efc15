"""Build a :class:`Catalogue` and :class:`Users` from the dataset a model was trained on.

* sequential datasets (UniSRec/MISSRec layout): raw ids from ``<ds>.item2index`` / ``<ds>.user2index``, texts from
  ``<ds>.text``; a user's latest history is their most recent row (history + target), and the items they
  interacted with are every target of their rows plus the history of their first row;
* general datasets: ids are the dataset's ``0..U-1`` / ``0..I-1``, except ``ML100K_general``, whose users and items
  are those of ``ML100K_mm_full`` in the same order (so raw ids are MovieLens ids and items have titles).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from missrec.data.features import read_index
from missrec.errors import data_error
from missrec.recommend.catalogue import Catalogue, Users, csr

PAD = "[PAD]"


def read_texts(path: Path) -> dict[str, str]:
    """``{raw item id: text}`` from a ``<ds>.text`` file (header ``item_id:token<TAB>text:token_seq``); {} if absent."""
    if not path.is_file():
        return {}
    texts: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines[1:], 2):
        raw, sep, text = line.partition("\t")
        if not sep:
            raise data_error(f"{path}:{number}", "'item_id<TAB>text'", repr(line[:80]), "regenerate the .text file")
        texts.setdefault(raw, text)
    return texts


def _raw_of(tokens: np.ndarray, index_path: Path) -> list[str]:
    """Raw id of each dataset token (the token itself where there is no id map)."""
    if not index_path.is_file():
        return [str(t) for t in tokens]
    raw_by_index = {str(index): raw for raw, index in read_index(index_path).items()}
    return [raw_by_index.get(str(t), str(t)) for t in tokens]


def sequential_sources(dataset, data_dir: Path) -> tuple[Catalogue, Users]:
    """Catalogue and users of a :class:`~missrec.data.dataset.MultimodalSequentialDataset` (before ``build()``)."""
    name = dataset.dataset_name
    item_tokens = dataset.field2id_token[dataset.iid_field]
    item_raw = [PAD, *_raw_of(item_tokens[1:], data_dir / f"{name}.item2index")]
    texts = read_texts(data_dir / f"{name}.text")
    catalogue = Catalogue(item_raw, ["", *(texts.get(r, "") for r in item_raw[1:])], first_item=1)

    user_tokens = dataset.field2id_token[dataset.uid_field]
    user_raw = [PAD, *_raw_of(user_tokens[1:], data_dir / f"{name}.user2index")]
    inter = dataset.inter_feat
    users = inter[dataset.uid_field].to_numpy()
    targets = inter[dataset.iid_field].to_numpy()
    lists = inter[dataset.item_id_list_field].to_numpy()
    n_users, rows = len(user_raw), np.arange(len(users))
    first = np.full(n_users, len(users))
    last = np.full(n_users, -1)
    np.minimum.at(first, users, rows)
    np.maximum.at(last, users, rows)
    known = np.flatnonzero(last >= 0)
    latest = [np.append(lists[last[u]], targets[last[u]]) for u in known]
    history = csr(np.repeat(known, [len(h) for h in latest]), np.concatenate(latest) if latest else [], n_users)
    early = [np.asarray(lists[first[u]]) for u in known]
    seen = csr(
        np.concatenate([users, np.repeat(known, [len(h) for h in latest]), np.repeat(known, [len(e) for e in early])]),
        np.concatenate([targets, *latest, *early]),
        n_users,
        unique=True,
    )
    return catalogue, Users(user_raw, history, seen, first_user=1)


def general_sources(dataset, data_root: Path) -> tuple[Catalogue, Users]:
    """Catalogue and users of a :class:`~missrec.data.general.GeneralDataset`; ``data_root`` holds the dataset
    folders (``ML100K_general`` reads ``ML100K_mm_full``'s id maps and titles there)."""
    from missrec.data.general.ml100k import FEATURE_DIR, NAME as ML100K_GENERAL

    item_raw = [str(i) for i in range(dataset.n_items)]
    user_raw = [str(u) for u in range(dataset.n_users)]
    texts = [""] * dataset.n_items
    if dataset.name == ML100K_GENERAL:
        folder = data_root / FEATURE_DIR
        item_raw = _raw_of(np.arange(dataset.n_items), folder / f"{FEATURE_DIR}.item2index")
        user_raw = _raw_of(np.arange(dataset.n_users), folder / f"{FEATURE_DIR}.user2index")
        by_raw = read_texts(folder / f"{FEATURE_DIR}.text")
        texts = [by_raw.get(r, "") for r in item_raw]
    pairs = np.concatenate([dataset.splits[s] for s in ("train", "valid", "test")])
    seen = csr(pairs[:, 0], pairs[:, 1], dataset.n_users, unique=True)
    return Catalogue(item_raw, texts, first_item=0), Users(user_raw, None, seen, first_user=0)
