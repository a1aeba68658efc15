"""Loading: a run folder's config is reused; a bare checkpoint needs its settings; unusable checkpoints are refused."""

import json
import shutil
from pathlib import Path

import pytest

from missrec.errors import CheckpointError
from missrec.recommend import Recommender
from missrec.recommend.loading import check_fingerprint, config_overrides
from tests.conftest import tiny_overrides
from tests.recommend.conftest import SEQUENTIAL, raw_item

ROOT = Path(__file__).resolve().parents[2]


def test_config_overrides_keep_model_keys_and_give_back_the_data_root():
    saved = {"data_path": "/data/downstream/recs", "dataset": "recs", "hidden_size": 16, "device": "cuda",
             "show_progress": True, "MODEL_TYPE": "ModelType.SEQUENTIAL", "train_neg_sample_args": {"distribution": "none"}}
    assert config_overrides(saved) == {"data_path": "/data/downstream", "hidden_size": 16}


def test_a_bare_checkpoint_needs_the_settings_it_was_trained_with(runs, recs_data, tmp_path):
    for suffix in (".safetensors", ".json"):
        shutil.copy(runs["missrec"] / "checkpoints" / f"best{suffix}", tmp_path / f"model{suffix}")
    with pytest.raises(CheckpointError, match="does not fit the model.*Fix: use the same hidden size"):
        Recommender.from_checkpoint(tmp_path / "model.safetensors",
                                    overrides={"data_path": str(recs_data[0]), "modalities": SEQUENTIAL["modalities"]})
    rec = Recommender.from_checkpoint(tmp_path / "model", overrides=tiny_overrides(recs_data[0], **SEQUENTIAL))
    history = [raw_item(1), raw_item(2)]
    assert rec.recommend(history) == Recommender.from_run(runs["missrec"]).recommend(history)
    in_run = Recommender.from_checkpoint(runs["missrec"] / "checkpoints" / "best.safetensors")  # finds config.json
    assert in_run.recommend(history) == rec.recommend(history)


def test_pretraining_checkpoints_and_missing_fingerprints_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="a pre-training checkpoint has no trained item side.*finetune.py -p"):
        Recommender.from_checkpoint(ROOT / "saved" / "MISSRec-ML1M_genres-2.safetensors", dataset="ML100K_mm_full")
    with pytest.raises(CheckpointError, match="records no data fingerprint"):
        check_fingerprint(None, {"n_items": 3}, "x.safetensors")
    with pytest.raises(CheckpointError, match=r"n_items: trained 3, now 4; item_tokens_sha256: trained \"ab\", now \"cd\""):
        check_fingerprint({"n_items": 3, "item_tokens_sha256": "ab", "old_key": 1},
                          {"n_items": 4, "item_tokens_sha256": "cd"}, "x.safetensors")
    check_fingerprint({"n_items": 3, "split_rows": {"train": 1}}, {"n_items": 3, "split_rows": {"train": 1}}, "x")


def test_load_times_are_reported(runs):
    rec = Recommender.from_run(runs["unisrec"])
    assert set(rec.load_seconds) == {"dataset", "model"} and all(v > 0 for v in rec.load_seconds.values())
    meta = json.loads((runs["unisrec"] / "checkpoints" / "best.json").read_text())
    assert rec.loaded.meta["data"] == meta["data"]
