"""The API against each model's own scoring: same items, same scores, history excluded, streaming in chunks."""

import numpy as np
import pytest
import torch
from recbole.data.interaction import Interaction

from missrec.recommend import Recommender
from missrec.recommend.heads import pad_histories
from missrec.recommend.loading import load_run
from tests.recommend.conftest import raw_item

HISTORY = [raw_item(i) for i in (3, 4, 5, 6)]


def reference(run, history, k, exclude=True):
    """Top k by the model's own ``full_sort_predict`` (a fresh instance), PAD and history masked by hand."""
    loaded = load_run(run)
    model, catalogue = loaded.model, loaded.catalogue
    internal = catalogue.internal(history)
    seq, lengths = pad_histories([internal], int(loaded.config["MAX_ITEM_LIST_LENGTH"]))
    with torch.no_grad():
        scores = model.full_sort_predict(Interaction({model.ITEM_SEQ: seq, model.ITEM_SEQ_LEN: lengths}))[0]
    scores[0] = float("-inf")
    if exclude:
        scores[internal] = float("-inf")
    top = scores.topk(k)
    return [catalogue.raw_ids[i] for i in top.indices.tolist()], top.values.tolist()


@pytest.mark.parametrize("name", ["missrec", "unisrec", "sasrec", "missrec_transductive"])
@pytest.mark.parametrize("exclude", [True, False])
def test_recommend_matches_the_models_full_sort_predict(runs, name, exclude):
    rec = Recommender.from_run(runs[name])
    got = rec.recommend(HISTORY, k=6, exclude_history=exclude)
    ids, scores = reference(runs[name], HISTORY, 6, exclude)
    assert [r.item_id for r in got] == ids
    np.testing.assert_allclose([r.score for r in got], scores, rtol=1e-5, atol=1e-5)
    assert bool(set(ids) & set(HISTORY)) != exclude  # the history's own cluster ranks first when it is allowed
    assert got[0].text.startswith("Movie ") and got[0].text.endswith("of cluster 0")


def test_recommend_many_streams_in_chunks_and_equals_single_requests(runs):
    rec = Recommender.from_run(runs["missrec"], chunk_items=5)  # 5 items per chunk: 8 chunks over the catalogue
    histories = [HISTORY, [raw_item(20)], [raw_item(9), raw_item(10), raw_item(9)]]
    stream = rec.recommend_many(histories, k=4, batch_size=2)
    assert next(stream)[0] == 0  # a generator: the first answer comes before the rest is computed
    rest = list(stream)
    one_chunk = Recommender.from_run(runs["missrec"])
    for key, recs in rest:
        expected = one_chunk.recommend(histories[key], k=4)
        assert [r.item_id for r in recs] == [r.item_id for r in expected]
        np.testing.assert_allclose([r.score for r in recs], [r.score for r in expected], rtol=1e-5)


def test_a_known_users_latest_history_and_every_item_they_saw(runs, recs_data):
    rec = Recommender.from_run(runs["missrec"])
    test_rows = (recs_data[0] / "recs" / "recs.test.inter").read_text().splitlines()[1:]
    user, history, target = test_rows[7].split("\t")  # user index 7 = raw "user7"
    expected_history = [raw_item(int(i)) for i in history.split()] + [raw_item(int(target))]
    assert rec.user_history("user7") == expected_history  # the model reads its last MAX_ITEM_LIST_LENGTH items
    by_user = rec.recommend_user("user7", k=5)
    by_history = rec.recommend(expected_history, k=5)
    assert [r.item_id for r in by_user] == [r.item_id for r in by_history]
    assert not set(r.item_id for r in by_user) & set(expected_history)
    users = dict(rec.recommend_many(users=rec.all_users(), k=3))
    assert len(users) == 50 and [r.item_id for r in users["user7"]] == [r.item_id for r in by_user[:3]]


def test_graph_models_rank_for_users_like_their_full_sort_predict(runs):
    rec = Recommender.from_run(runs["lightgcn"])
    loaded = load_run(runs["lightgcn"])
    with torch.no_grad():
        scores = loaded.model.full_sort_predict(Interaction({"user_id": torch.tensor([3])}))[0]
    seen = loaded.users.seen_items(3)
    scores[torch.as_tensor(seen)] = float("-inf")
    got = rec.recommend_user("3", k=5)
    assert [r.item_id for r in got] == [str(i) for i in scores.topk(5).indices.tolist()]
    np.testing.assert_allclose([r.score for r in got], scores.topk(5).values.tolist(), rtol=1e-5)
    assert len(seen) > 0 and not {str(i) for i in seen} & {r.item_id for r in got}
    included = rec.recommend_user("3", k=60, exclude_history=False)
    assert len(included) == 48 and {str(i) for i in seen} <= {r.item_id for r in included}
