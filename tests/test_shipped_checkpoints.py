"""The checkpoints in saved/: their model cards name the right file, and they load into the model the README's
commands build on the embedded MovieLens-100K, with nothing missing or unexpected."""

from __future__ import annotations

import hashlib
import re

import pytest

from missrec.config import REPO_ROOT, build_config
from missrec.models.missrec import MISSRec
from missrec.models.unisrec import UniSRec
from missrec.runner import MODES
from missrec.transfer import load_pretrained
from tests.test_transfer import FakeDataset

SAVED = REPO_ROOT / "saved"
ML100K_ITEMS = 1682 + 1  # + PAD
ML100K_DIMS = {"text": 384, "kg": 64}
MODELS = {"MISSRec": MISSRec, "UniSRec": UniSRec}
SHIPPED = [(p.stem, MODELS[p.stem.split("-")[0]]) for p in sorted(SAVED.glob("*.safetensors"))]


def test_the_checkpoints_the_readme_and_tables_use_are_shipped():
    assert {"MISSRec-ML1M_genres-3", "UniSRec-ML1M_genres-3"} <= {stem for stem, _ in SHIPPED}


@pytest.mark.parametrize("stem", [stem for stem, _ in SHIPPED])
def test_model_card_names_the_file_it_ships(stem):
    card = (SAVED / f"{stem}.md").read_text(encoding="utf-8")
    recorded = re.search(r"sha256 \(safetensors\) \| `([0-9a-f]{64})`", card)
    assert recorded, f"{stem}.md has no sha256 row"
    assert hashlib.sha256((SAVED / f"{stem}.safetensors").read_bytes()).hexdigest() == recorded.group(1)
    assert (SAVED / f"{stem}.json").is_file()


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("stem,cls", SHIPPED)
def test_loads_into_the_ml100k_model_without_gaps(stem, cls, mode, tmp_path):
    config = build_config(cls, "ML100K_mm_full", "finetune", overrides={
        "data_path": str(tmp_path), "device": "cpu", "train_stage": MODES[mode],
    })
    model = cls(config, FakeDataset(ML100K_ITEMS, ML100K_DIMS))
    report = load_pretrained(model, SAVED / f"{stem}.safetensors")
    assert report["missing"] == [] and report["unexpected"] == []
    new = set(report["new_by_design"])  # the new ID table (transductive) and MISSRec's recomputed interests
    assert ("item_embedding.weight" in new) == (mode == "transductive")
    assert all(k == "item_embedding.weight" or k.startswith("interest_") for k in new)
    frozen = set(report["frozen"])
    assert frozen and all(k.startswith(cls.transfer_frozen_prefixes) for k in frozen)
    assert report["meta"]["corpus"] == "ML1M_genres" and report["meta"]["stage"] == "pretrain"
