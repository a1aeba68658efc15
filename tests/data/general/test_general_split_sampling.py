"""Seeded splits, the embedded MovieLens-100K general form, and the BPR training loader."""

import numpy as np
import pytest
import torch

from missrec.data.general import BPRTrainLoader, load_ml100k_general
from missrec.data.general.split import carve_validation, mmrec_labels, random_user_split
from missrec.data.general.synthetic import planted_dataset


def test_mmrec_labels_per_user_size():
    def labels(n):
        return mmrec_labels(np.arange(n), np.full(n, n)).tolist()

    assert labels(1) == [2]
    assert labels(2) == [1, 2]
    assert labels(5) == [0, 0, 0, 1, 2]
    assert labels(10) == [0] * 8 + [1, 2]
    assert labels(15) == [0] * 12 + [1, 2, 2]  # int(0.2 * 15) = 3 held out: 1 valid, 2 test
    assert labels(20) == [0] * 16 + [1, 1, 2, 2]


def test_random_user_split_is_seeded_and_partitions():
    pairs = np.array([(u, i) for u in range(5) for i in range(12)], dtype=np.int64)
    train, valid, test = random_user_split(pairs, 1)
    assert len(train) == 5 * 10 and len(valid) == 5 and len(test) == 5
    merged = np.concatenate([train, valid, test])
    assert {tuple(p) for p in merged.tolist()} == {tuple(p) for p in pairs.tolist()}
    assert np.array_equal(random_user_split(pairs[::-1].copy(), 1)[2], test)  # independent of input order
    assert not np.array_equal(random_user_split(pairs, 2)[2], test)


def test_carve_validation():
    train = np.array([(0, i) for i in range(10)] + [(1, 0), (1, 1)], dtype=np.int64)
    kept, valid = carve_validation(train, 0.1, 0)
    assert len(valid) == 1 and valid[0, 0] == 0  # user 1 (2 rows) keeps both
    assert len(kept) == 11


def test_ml100k_general_form():
    data = load_ml100k_general(pytest.importorskip("missrec.data.prepare.ml100k").DEFAULT_DIR.parent)
    stats = data.stats()
    assert (stats["users"], stats["items"], stats["interactions"]) == (943, 1682, 100000)
    assert stats["modalities"] == {"text": 384, "kg": 64} and stats["labels"] == 19
    assert stats["train_rows"] == 80367 and stats["valid_rows"] + stats["test_rows"] == 19633
    assert int((data.features["kg"].abs().sum(1) == 0).sum()) == 86
    again = load_ml100k_general(pytest.importorskip("missrec.data.prepare.ml100k").DEFAULT_DIR.parent)
    assert np.array_equal(again.splits["test"], data.splits["test"])


@pytest.fixture(scope="module")
def planted():
    return planted_dataset(seed=1)


def test_bpr_loader_negatives_are_never_training_items(planted):
    loader = BPRTrainLoader(planted, 50, "cpu", seed=3, neg_pool="all")
    train = {tuple(p) for p in planted.splits["train"].tolist()}
    batches = list(loader)
    assert len(batches) == len(loader) == -(-len(train) // 50)
    users = torch.cat([b["user_id"] for b in batches])
    pos = torch.cat([b["item_id"] for b in batches])
    neg = torch.cat([b["neg_item_id"] for b in batches])
    assert {(u, i) for u, i in zip(users.tolist(), pos.tolist())} == train  # every pair once per epoch
    assert not any((u, j) in train for u, j in zip(users.tolist(), neg.tolist()))
    assert batches[0]["user_id"].device.type == "cpu"


def test_bpr_loader_is_seeded_per_epoch(planted):
    loader = BPRTrainLoader(planted, 64, "cpu", seed=3)
    first = [b["neg_item_id"] for b in loader]
    assert all(torch.equal(a, b["neg_item_id"]) for a, b in zip(first, loader))
    loader.set_epoch(1)
    assert not all(torch.equal(a, b["neg_item_id"]) for a, b in zip(first, loader))
    loader.set_epoch(0)
    assert all(torch.equal(a, b["neg_item_id"]) for a, b in zip(first, loader))


def test_user_sampler_and_train_pool(planted):
    loader = BPRTrainLoader(planted, 16, "cpu", seed=0, sampler="user", neg_pool="train", negatives=False)
    batches = list(loader)
    assert len(batches) == len(planted.splits["train"]) // 16 + 1
    assert all(b["user_id"].unique().numel() == 16 for b in batches)  # distinct users per batch
    assert "neg_item_id" not in batches[0].interaction
    train = {tuple(p) for p in planted.splits["train"].tolist()}
    assert all((u, i) in train for b in batches for u, i in zip(b["user_id"].tolist(), b["item_id"].tolist()))
