import numpy as np
import pytest
import torch

from missrec.config import build_config
from missrec.data.dataset import MultimodalSequentialDataset, truncate_histories
from missrec.data.features import write_feature_file
from missrec.errors import DataError
from missrec.models.missrec import MISSRec
from tests.conftest import tiny_overrides


def _config(data_path, **extra):
    return build_config(MISSRec, "tiny", overrides=tiny_overrides(data_path, **extra))


def test_features_align_with_recbole_item_ids(tiny_data):
    data = MultimodalSequentialDataset(_config(tiny_data))
    raw = np.fromfile(tiny_data / "tiny" / "tiny.feat1CLS", dtype="<f4").reshape(48, 16)
    text = data.modality_features["text"]
    assert text.shape == (data.item_num, 16)
    assert torch.count_nonzero(text[0]) == 0  # [PAD]
    for internal, token in enumerate(data.field2id_token["item_id"][1:], 1):
        assert torch.equal(text[internal], torch.from_numpy(raw[int(token)]))
    assert data.modality_features["image"].shape[1] == 8


def test_splits_and_truncation(tiny_data):
    data = MultimodalSequentialDataset(_config(tiny_data, MAX_ITEM_LIST_LENGTH=3))
    train, valid, test = data.build()
    assert len(valid) == len(test) == 40
    assert train.inter_feat["item_id_list"].shape[1] == 3
    assert int(train.inter_feat["item_length"].max()) == 3


def test_truncate_keeps_most_recent_items():
    seq = torch.tensor([[1, 2, 3, 4, 5], [6, 7, 0, 0, 0]])
    kept, lengths = truncate_histories(seq, torch.tensor([5, 2]), 3)
    assert kept.tolist() == [[3, 4, 5], [6, 7, 0]]
    assert lengths.tolist() == [3, 2]


def test_item_token_absent_from_id_map(tiny_data):
    folder = tiny_data / "tiny"
    lines = (folder / "tiny.item2index").read_text().splitlines()
    (folder / "tiny.item2index").write_text("\n".join(lines[:40]) + "\n")  # 48 items used, 40 in the map
    for suffix, d in (("feat1CLS", 16), ("feat3CLS", 8)):
        write_feature_file(folder / f"tiny.{suffix}", np.zeros((40, d), np.float32))
    with pytest.raises(DataError, match=r"tiny\.item2index: expected every item token .* below 40, found item token '4\d' absent from the id map"):
        MultimodalSequentialDataset(_config(tiny_data))


def test_feature_rows_must_match_the_id_map(tiny_data):
    write_feature_file(tiny_data / "tiny" / "tiny.feat3CLS", np.zeros((47, 8), np.float32))
    with pytest.raises(DataError, match=r"tiny\.feat3CLS: expected 48 rows of float32"):
        MultimodalSequentialDataset(_config(tiny_data))


def test_declared_dimension_that_does_not_divide_the_file(tiny_data):
    with pytest.raises(DataError, match=r"tiny\.feat1CLS: expected rows of 5 float32 values"):
        MultimodalSequentialDataset(_config(tiny_data, modality_dims={"text": 5}))


def test_nan_in_features(tiny_data):
    feats = np.zeros((48, 8), np.float32)
    feats[7, 3] = np.nan
    (tiny_data / "tiny" / "tiny.feat3CLS").write_bytes(feats.tobytes())
    with pytest.raises(DataError, match=r"NaN/inf in 1 rows \(first: \[7\]\)"):
        MultimodalSequentialDataset(_config(tiny_data))


def test_empty_split_is_rejected_before_recbole_parses_it(tiny_data):
    (tiny_data / "tiny" / "tiny.test.inter").write_text("user_id:token\titem_id_list:token_seq\titem_id:token\n")
    with pytest.raises(DataError, match=r"tiny\.test\.inter: expected at least one interaction row"):
        MultimodalSequentialDataset(_config(tiny_data))


def test_any_number_of_modalities(tiny_data):
    write_feature_file(tiny_data / "tiny" / "tiny.featKG", np.ones((48, 3), np.float32))
    cfg = _config(tiny_data, modalities={"text": "feat1CLS", "image": "feat3CLS", "kg": "featKG"})
    data = MultimodalSequentialDataset(cfg)
    assert list(data.modality_features) == ["text", "image", "kg"]
    assert data.modality_features["kg"].shape == (49, 3)
