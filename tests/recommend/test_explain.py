"""MISSRec's explanation: the history's interest tokens, attention over them, fusion weights, per-modality cosines."""

import json

import pytest
import torch
import torch.nn.functional as F

from missrec.modules.interests import interest_tokens
from missrec.recommend import Recommender
from missrec.recommend.explain import format_explanation
from missrec.recommend.heads import pad_histories
from tests.recommend.conftest import raw_item

HISTORY = [raw_item(i) for i in (8, 9, 10)]


@pytest.mark.parametrize("name", ["missrec", "missrec_transductive"])
def test_explanation_numbers_are_the_models(runs, name):
    rec = Recommender.from_run(runs[name])
    ex = rec.explain(HISTORY, k=4)
    recs = rec.recommend(HISTORY, k=4)
    assert [i["item_id"] for i in ex["items"]] == [r.item_id for r in recs]
    internal = rec.catalogue.internal(HISTORY)
    seq, lengths = pad_histories([internal], rec.max_len)
    ids, n_valid = interest_tokens(seq, rec.model.interest_lookup)
    assert sorted(i["interest"] for i in ex["interests"]) == ids[0, : n_valid[0]].tolist() and ex["interest_tokens"] == n_valid[0]
    assert sum(i["attention"] for i in ex["interests"]) == pytest.approx(1.0, abs=1e-5)  # softmax over real tokens
    assert [i["attention"] for i in ex["interests"]] == sorted((i["attention"] for i in ex["interests"]), reverse=True)
    for interest in ex["interests"]:
        assert interest["history_items"] and {h["item_id"] for h in interest["history_items"]} <= set(HISTORY)
        assert 1 <= len(interest["central_members"]) <= 3 and interest["size"] >= len(interest["central_members"])

    with torch.no_grad():
        s = rec.head.encode(seq, lengths)[0]
        factor = rec.model.fusion.fusion_factor.item()
        for item in ex["items"]:
            j = rec.catalogue.internal([item["item_id"]])[0]
            cos = torch.stack([F.cosine_similarity(s, rec.head.modal[m, j], dim=0) for m in range(2)])
            weights = torch.softmax(factor * cos, 0)
            assert [item["cosine"]["text"], item["cosine"]["kg"]] == pytest.approx(cos.tolist(), abs=1e-5)
            assert [item["fusion_weight"]["text"], item["fusion_weight"]["kg"]] == pytest.approx(weights.tolist(), abs=1e-5)
            fused = (weights * cos).sum()
            if "id_cosine" in item:
                id_cos = F.cosine_similarity(s, rec.model.item_embedding.weight[j], dim=0)
                assert item["id_cosine"] == pytest.approx(id_cos.item(), abs=1e-5)
                fused = (id_cos + 2 * fused) / 3
            assert item["score"] == pytest.approx(fused.item() / 0.07, abs=1e-4)
    user = ex["fusion"]["user_weights"]
    assert user["text"] + user["kg"] == pytest.approx(1.0)
    assert user["text"] == pytest.approx(sum(i["fusion_weight"]["text"] for i in ex["items"]) / 4, abs=1e-6)
    assert ("id_cosine" in ex["items"][0]) == (name == "missrec_transductive")


def test_central_members_are_closest_to_their_centroid_and_text_is_readable(runs):
    rec = Recommender.from_run(runs["missrec"])
    ex = rec.explain(HISTORY, k=3, members=2)
    json.dumps(ex)  # JSON-serialisable as it is
    top = ex["interests"][0]
    cluster = top["interest"]
    lookup = rec.model.interest_lookup
    modality, items = torch.nonzero(lookup == cluster, as_tuple=True)
    distances = (rec.head.modal[modality, items] - rec.model.interest_embeddings[cluster]).norm(dim=-1)
    closest = rec.catalogue.raw_ids[int(items[distances.argmin()])]
    assert top["central_members"][0]["item_id"] == closest
    text = format_explanation(ex)
    assert f"interest {cluster:>5}" in text and "Modality fusion (dynamic_shared" in text
    assert text.count("text +") + text.count("text -") == 3 and "Movie 8 of cluster 1" in text
