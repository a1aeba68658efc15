"""The faiss index: Flat is exact, IVF/HNSW recall well on clustered vectors, candidates are re-ranked exactly."""

import sys

import numpy as np
import pytest
import torch

from missrec.errors import ConfigError
from missrec.recommend import Recommender
from missrec.recommend.ann import AnnIndex
from missrec.recommend.heads import pad_histories
from tests.recommend.conftest import raw_item

faiss = pytest.importorskip("faiss")


def clustered(n, d, clusters, seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, d))
    x = centres[rng.integers(clusters, size=n)] + 0.3 * rng.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def same_list(a, b):
    assert [r.item_id for r in a] == [r.item_id for r in b]
    np.testing.assert_allclose([r.score for r in a], [r.score for r in b], rtol=1e-5)


def exact_top(items, queries, k):
    return np.argsort(-(queries @ items.T), axis=1, kind="stable")[:, :k]


def test_flat_is_exact_and_ids_start_at_first_item():
    items, queries = clustered(500, 8, 10, 0), clustered(20, 8, 10, 1)
    scores, found = AnnIndex(items, "flat", first_item=1).search(queries, 10)
    np.testing.assert_array_equal(found, exact_top(items, queries, 10) + 1)
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ items.T, found - 1, axis=1), rtol=1e-5)
    scores, found = AnnIndex(items[:3], "flat").search(queries[:1], 5)  # fewer items than asked for
    assert found.shape == (1, 3)


@pytest.mark.parametrize("kind,params", [("ivf", {"nlist": 32, "nprobe": 8}), ("hnsw", {"hnsw_m": 16})])
def test_approximate_indexes_recall_the_exact_top10(kind, params):
    items, queries = clustered(4000, 16, 40, 2), clustered(100, 16, 40, 3)
    index = AnnIndex(items, kind, **params)
    _, found = index.search(queries, 10)
    exact = exact_top(items, queries, 10)
    recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)])
    assert recall >= 0.9, recall
    assert index.memory_bytes() >= items.nbytes


def test_bad_kinds_and_a_missing_faiss_are_one_error(monkeypatch):
    with pytest.raises(ConfigError, match="unknown kind 'annoy'"):
        AnnIndex(np.zeros((4, 2), np.float32), "annoy")
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ConfigError, match=r"faiss is not installed. Fix: pip install -e '.\[cpu\]'"):
        AnnIndex(np.zeros((4, 2), np.float32), "flat")


@pytest.mark.parametrize("name", ["sasrec", "unisrec", "lightgcn"])
def test_linear_models_give_the_exact_list_through_a_flat_index(runs, name):
    rec = Recommender.from_run(runs[name])
    ask = (lambda r: r.recommend_user("5", k=5)) if name == "lightgcn" else (lambda r: r.recommend([raw_item(3)], k=5))
    exact = ask(rec)
    rec.build_index("flat", candidates=5)
    same_list(ask(rec), exact)


@pytest.mark.parametrize("name", ["missrec", "missrec_transductive"])
def test_missrec_flat_indexes_are_certified_exact(runs, name, monkeypatch):
    asked = []
    search = AnnIndex.search
    monkeypatch.setattr(AnnIndex, "search", lambda self, q, n: asked.append(n) or search(self, q, n))
    rec = Recommender.from_run(runs[name])
    assert len(rec.head.index_blocks()) == 2 + (name == "missrec_transductive")  # text, kg (, ID)
    assert rec.model.fusion.fusion_factor.item() != 0  # a trained dynamic fusion: not an inner product
    histories = [[raw_item(20), raw_item(21)], [raw_item(1)], [raw_item(30), raw_item(5), raw_item(33)]]
    exact = [rec.recommend(h, k=6) for h in histories]
    rec.build_index("flat", candidates=2)  # too few at first: the bound check must widen the search
    for history, expected in zip(histories, exact):
        same_list(rec.recommend(history, k=6), expected)
    assert min(asked) == 6 + 1 and max(asked) > min(asked)  # started at max(2, k) + excluded, then widened
    query = rec.head.encode(*pad_histories([rec.catalogue.internal(histories[0])], rec.max_len))
    scores = rec.head.score_range(query, 1, rec.head.n_items)
    best_cosine = torch.stack([query @ block[1:].T for block in rec.head.index_blocks()]).amax(0)
    assert (scores <= best_cosine * rec.head.bound_scale + 1e-4).all()  # the bound the certificate relies on


def test_an_approximate_index_with_every_item_as_candidate_is_exact(runs):
    rec = Recommender.from_run(runs["missrec"])
    history = [raw_item(20), raw_item(21)]
    exact = rec.recommend(history, k=5)
    rec.build_index("hnsw", candidates=len(rec.catalogue), hnsw_m=8)
    same_list(rec.recommend(history, k=5), exact)
    rec.build_index(None)
    assert rec.index is None
