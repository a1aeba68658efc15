"""Loaders of the general formats read fixture files written here, and reject bad input with one clear error."""

import json
import os
import pickle

import numpy as np
import pytest
import torch

from missrec.data.general import GeneralDataset, load_json_split, load_mmrec, load_sgfd
from missrec.data.general.load import detect_format
from missrec.data.general.synthetic import planted_dataset, write_mmrec_folder
from missrec.errors import DataError


def write_inter(path, rows, header="userID\titemID\trating\ttimestamp\tx_label"):
    path.write_text(header + "\n" + "".join("\t".join(map(str, r)) + "\n" for r in rows), encoding="utf-8")


MMREC_ROWS = [(0, 0, 5, 1, 0), (0, 1, 4, 2, 0), (0, 2, 3, 3, 1), (1, 1, 5, 4, 0), (1, 0, 5, 5, 2), (1, 1, 5, 6, 0)]


@pytest.fixture
def mmrec_dir(tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    write_inter(folder / "tiny.inter", MMREC_ROWS)
    np.save(folder / "image_feat.npy", np.arange(8, dtype=np.float64).reshape(4, 2))  # 4 rows: item 3 has no interaction
    np.save(folder / "text_feat.npy", np.ones((4, 3), dtype=np.float32))
    return folder


def test_mmrec_splits_features_and_item_count(mmrec_dir):
    data = load_mmrec(mmrec_dir, "tiny")
    assert (data.n_users, data.n_items) == (2, 4)  # items from the feature rows, users from the ids
    assert data.splits["train"].tolist() == [[0, 0], [0, 1], [1, 1]]  # repeated (1, 1) counted once
    assert data.splits["valid"].tolist() == [[0, 2]] and data.splits["test"].tolist() == [[1, 0]]
    assert data.modalities == ["image", "text"]
    assert data.features["image"].dtype == torch.float32 and data.features["image"][3].tolist() == [6.0, 7.0]
    indptr, indices = data.user_items("train")
    assert indptr.tolist() == [0, 2, 3] and indices.tolist() == [0, 1, 1]
    only_text = load_mmrec(mmrec_dir, "tiny", {"text": "text_feat.npy"})
    assert only_text.modalities == ["text"]


def test_detect_format(tmp_path, mmrec_dir):
    assert detect_format(mmrec_dir, "tiny") == "mmrec"
    (tmp_path / "j" / "5-core").mkdir(parents=True)
    (tmp_path / "j" / "5-core" / "train.json").write_text("{}")
    assert detect_format(tmp_path / "j", "j") == "json"
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "train.csv").write_text("")
    assert detect_format(tmp_path / "s", "s") == "sgfd"
    assert detect_format(tmp_path, "ML100K_general") == "ml100k"
    with pytest.raises(DataError, match="expected tiny2.inter"):
        detect_format(tmp_path / "nothing", "tiny2")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda f: (f / "image_feat.npy").unlink() or np.save(f / "x.npy", np.zeros(2)), "image_feat.npy: expected a feature file"),
        (lambda f: [np.save(f / n, np.zeros((2, 2))) for n in ("image_feat.npy", "text_feat.npy")], "expected at least 3 feature rows"),
        (lambda f: np.save(f / "image_feat.npy", np.zeros(4)), "a 2-D numeric array"),
        (lambda f: np.save(f / "image_feat.npy", np.full((4, 2), np.nan)), "NaN/inf"),
        (lambda f: np.save(f / "image_feat.npy", np.zeros((5, 2))), "the same number of rows in every feature file"),
        (lambda f: np.save(f / "image_feat.npy", np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True), "pickled"),
        (lambda f: write_inter(f / "tiny.inter", [(0, 0, 5, 1, 3)]), "x_label in {0, 1, 2}"),
        (lambda f: write_inter(f / "tiny.inter", [(0, 0, 5)], "userID\titemID\trating"), "columns"),
        (lambda f: write_inter(f / "tiny.inter", [(0, "x", 5, 1, 0)]), "tiny.inter:2: expected an integer itemID"),
        (lambda f: write_inter(f / "tiny.inter", [(-1, 0, 5, 1, 0), (0, 0, 5, 1, 0)]), "ids outside"),
        (lambda f: write_inter(f / "tiny.inter", [(0, 0, 5, 1, 1)]), "expected training interactions"),
        (lambda f: (f / "tiny.inter").unlink(), "tiny.inter: expected MMRec interactions"),
    ],
)
def test_mmrec_bad_input_is_one_clear_error(mmrec_dir, mutate, message):
    mutate(mmrec_dir)
    with pytest.raises(DataError, match=message):
        load_mmrec(mmrec_dir, "tiny", {"image": "image_feat.npy", "text": "text_feat.npy"})


class _Marker:
    """Unpickling this creates a folder: proof that a loader unpickled the file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


@pytest.mark.parametrize("layout", ["lattice", "mmssl"])
def test_json_split_rebuilds_train_from_json_and_never_unpickles(tmp_path, layout):
    folder = tmp_path / "baby"
    splits_dir = folder / "5-core" if layout == "lattice" else folder
    splits_dir.mkdir(parents=True)
    (splits_dir / "train.json").write_text(json.dumps({"0": [0, 1], "1": [2], "2": [1, 3]}))
    (splits_dir / "val.json").write_text(json.dumps({"0": [2], "1": []}))
    (splits_dir / "test.json").write_text(json.dumps({"0": [3], "2": [0]}))
    np.save(folder / "image_feat.npy", np.ones((4, 5)))
    np.save(folder / "text_feat.npy", np.ones((4, 3)))
    np.save(folder / "audio_feat.npy", np.ones((4, 2)))
    marker = tmp_path / "unpickled"
    (folder / "train_mat").write_bytes(pickle.dumps(_Marker(str(marker))))
    data = load_json_split(folder, "baby")
    assert not marker.exists()
    assert (data.n_users, data.n_items) == (3, 4)
    assert data.splits["train"].tolist() == [[0, 0], [0, 1], [1, 2], [2, 1], [2, 3]]
    assert data.splits["valid"].tolist() == [[0, 2]] and data.splits["test"].tolist() == [[0, 3], [2, 0]]
    assert data.modalities == ["image", "text", "audio"]  # every modality present is loaded (Tiktok's audio too)


@pytest.mark.parametrize(
    "content, message",
    [("{not json", "valid JSON"), ('{"0": [1, "a"]}', "integer user keys"), ('{"u": [1]}', "integer user keys"), ("[1, 2]", "a mapping")],
)
def test_json_split_bad_input(tmp_path, content, message):
    (tmp_path / "d").mkdir()
    for name in ("train.json", "val.json", "test.json"):
        (tmp_path / "d" / name).write_text('{"0": [0]}')
    (tmp_path / "d" / "train.json").write_text(content)
    with pytest.raises(DataError, match=message):
        load_json_split(tmp_path / "d", "d", {})


def write_sgfd(folder, n_users=12, n_items=10):
    folder.mkdir()
    rng = np.random.default_rng(0)
    train = [(int(i), u, f"r{u}", f"a{i}") for u in range(n_users) for i in rng.choice(n_items - 1, 5, replace=False)]
    test = [(n_items - 1, u, f"r{u}", "a") for u in range(0, n_users, 2)]
    for name, rows in (("train.csv", train), ("test.csv", test)):
        (folder / name).write_text("itemID,userID,reviewerID,asin\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    np.save(folder / "FeatureImage_normal.npy", rng.normal(size=(n_items, 6)).astype(np.float32))
    np.save(folder / "FeatureText_normal.npy", rng.normal(size=(n_items, 4)).astype(np.float32))
    np.save(folder / "MetaData_normal.npy", np.arange(n_items) % 3)
    return train


def test_sgfd_carves_validation_from_train(tmp_path):
    rows = write_sgfd(tmp_path / "office")
    data = load_sgfd(tmp_path / "office", "office", valid_ratio=0.2, seed=7)
    original = {(u, i) for i, u, _, _ in rows}
    train = {tuple(p) for p in data.splits["train"].tolist()}
    valid = {tuple(p) for p in data.splits["valid"].tolist()}
    assert train | valid == original and not train & valid
    assert len(valid) == 12  # round(0.2 * 5) = 1 per user
    assert {tuple(p) for p in data.splits["test"].tolist()} == {(u, 9) for u in range(0, 12, 2)}
    assert data.item_labels.tolist() == [i % 3 for i in range(10)]
    assert data.modalities == ["image", "text"]
    again = load_sgfd(tmp_path / "office", "office", valid_ratio=0.2, seed=7)
    assert np.array_equal(again.splits["valid"], data.splits["valid"])
    other = load_sgfd(tmp_path / "office", "office", valid_ratio=0.2, seed=8)
    assert not np.array_equal(other.splits["valid"], data.splits["valid"])


def test_sgfd_label_mismatch(tmp_path):
    write_sgfd(tmp_path / "office")
    np.save(tmp_path / "office" / "MetaData_normal.npy", np.zeros(4, dtype=np.int64))
    with pytest.raises(DataError, match="10 labels"):
        load_sgfd(tmp_path / "office", "office")


def test_dataset_validation_errors():
    pairs = np.array([[0, 0], [1, 1]])
    with pytest.raises(DataError, match="modality 'text' expected \\[2, d\\]"):
        GeneralDataset("x", 2, 2, {"train": pairs}, {"text": torch.zeros(3, 4)})
    with pytest.raises(DataError, match="item labels"):
        GeneralDataset("x", 2, 2, {"train": pairs}, item_labels=torch.zeros(2))
    with pytest.raises(DataError, match="ids outside"):
        GeneralDataset("x", 2, 2, {"train": np.array([[0, 2]])})


def test_synthetic_roundtrip_through_the_mmrec_loader(tmp_path):
    data = planted_dataset(seed=3)
    loaded = load_mmrec(write_mmrec_folder(data, tmp_path / data.name), data.name)
    for split in ("train", "valid", "test"):
        assert np.array_equal(loaded.splits[split], data.splits[split])
    assert set(loaded.modalities) == {"text", "image"}
    torch.testing.assert_close(loaded.features["text"], data.features["text"])
