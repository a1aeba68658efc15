"""MICRO by hand on a small planted dataset (dense reference): per-modality learned + frozen kNN graphs, attention
fusion, the final item vectors, the GRACE contrastive fusion loss; the per-epoch rebuild schedule.

Training two epochs through the runner on planted data (loss falls, beats random) is
``tests/models/graph/test_graph_models.py::test_model_trains_two_epochs_and_beats_random[MICRO]``.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from recbole.data.interaction import Interaction

from missrec.data.general import BPRTrainLoader
from missrec.data.general.synthetic import planted_dataset
from missrec.modules.graph import bipartite_adj
from missrec.registry import get_model
from missrec.runner_general import build_general_config

FAST = {"train_batch_size": 8, "eval_batch_size": 16, "learning_rate": 0.05, "stopping_step": 5, "device": "cpu"}


def small_data(dims=None):
    dims = dims or {"text": 5, "image": 6}
    return planted_dataset(n_users=12, n_items=8, n_clusters=2, per_user=(3, 4), dims=dims, seed=1)


def build(data, **overrides):
    cls = get_model("MICRO").cls
    sizes = {"knn_k": 3, "embedding_size": 4, "feat_embed_dim": 3}
    config = build_general_config(cls, "small", (), {**FAST, **sizes, **overrides})
    torch.manual_seed(0)
    return cls(config, data)


def dense_knn_sym(x: torch.Tensor, k: int) -> torch.Tensor:
    """Top-k cosine graph (self included) with D^-1/2 S D^-1/2, D = row sums."""
    xn = F.normalize(x, dim=1)
    values, index = (xn @ xn.T).topk(k, 1)
    s = torch.zeros(len(x), len(x)).scatter(1, index, values)
    d = s.sum(1).pow(-0.5)
    return d[:, None] * s * d[None, :]


def hand_encode(net, data, raw):
    """(users, items, h_m list, h) with dense matrices; ``raw``: the features the frozen graphs were built from."""
    hs = []
    for m in range(len(raw)):
        projected = net.projections[m](net.features[m])
        graph = 0.1 * dense_knn_sym(projected, 3) + 0.9 * dense_knn_sym(raw[m], 3)
        hs.append(graph @ net.item_embedding.weight)
    q = net.fusion.query
    scores = torch.cat([q[2](torch.tanh(q[0](h))) for h in hs], 1)  # [I, M]
    beta = torch.softmax(scores, 1)
    h = sum(beta[:, m : m + 1] * hs[m] for m in range(len(hs)))
    users, items = data.pairs("train")
    a = bipartite_adj(users, items, data.n_users, data.n_items, "none").to_dense()
    a = a + torch.eye(data.n_users + data.n_items)
    a = a / a.sum(1, keepdim=True)  # RW+I
    e0 = torch.cat([net.user_embedding.weight, net.item_embedding.weight])
    e = (e0 + a @ e0 + a @ a @ e0) / 3
    return e[: data.n_users], e[data.n_users :] + F.normalize(h, dim=1), hs, h


def grace(z1, z2, tau):
    a, b = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    total = 0.0
    for i in range(len(a)):
        between = [math.exp(float(a[i] @ b[j]) / tau) for j in range(len(b))]
        within = [math.exp(float(a[i] @ a[j]) / tau) for j in range(len(a)) if j != i]
        total += -math.log(between[i] / (sum(between) + sum(within)))
    return total / len(a)


def test_per_modality_graphs_fusion_and_items_by_hand():
    data = small_data()
    net = build(data)
    raw = [f.detach().clone() for f in net.features]
    with torch.no_grad():
        users, items, hs, h = net.encode()
        e_u, e_i, hand_hs, hand_h = hand_encode(net, data, raw)
    for got, want in zip(hs, hand_hs):
        torch.testing.assert_close(got, want)
    torch.testing.assert_close(h, hand_h)
    torch.testing.assert_close(users, e_u)
    torch.testing.assert_close(items, e_i)
    beta = net.fusion.weights(hs)
    torch.testing.assert_close(beta.sum(1), torch.ones(data.n_items))
    assert not torch.allclose(beta, torch.full_like(beta, 0.5))  # per-item weights, not a fixed mix


def test_loss_is_bpr_plus_reg_plus_contrastive_fusion():
    data = small_data()
    net = build(data, reg_weight=0.01, loss_ratio=0.03, tau=0.5)
    raw = [f.detach().clone() for f in net.features]
    batch = next(iter(BPRTrainLoader(data, 8, "cpu", seed=0)))
    loss = net.calculate_loss(batch)
    with torch.no_grad():
        e_u, e_i, hs, h = hand_encode(net, data, raw)
        u, i, j = e_u[batch["user_id"]], e_i[batch["item_id"]], e_i[batch["neg_item_id"]]
        bpr = -F.logsigmoid((u * i).sum(1) - (u * j).sum(1)).mean()
        reg = 0.5 * (u.pow(2).sum() + i.pow(2).sum() + j.pow(2).sum()) / 8  # / train_batch_size
        cl = sum(grace(h_m, h, 0.5) for h_m in hs)
    assert float(loss.detach()) == pytest.approx(float(bpr + 0.01 * reg) + 0.03 * cl, rel=1e-5)
    torch.testing.assert_close(net.contrastive_loss(hs, h), torch.tensor(cl, dtype=torch.float32))


def test_contrastive_chunks_are_bounded_and_do_not_change_the_loss(monkeypatch):
    from missrec.models.graph import micro

    assert micro.contrastive_chunk_rows(63_001) == 266  # [266, 126,002] logits: 128 MB at Elec
    assert micro.contrastive_chunk_rows(7_050) * 2 * 7_050 <= micro.CONTRASTIVE_CHUNK_ELEMENTS
    data = small_data()
    net = build(data)
    with torch.no_grad():
        _, _, hs, h = net.encode()
    whole = net.contrastive_loss(hs, h)
    monkeypatch.setattr(micro, "CONTRASTIVE_CHUNK_ELEMENTS", 2 * data.n_items * 5)  # 5 anchors per chunk
    assert micro.contrastive_chunk_rows(data.n_items) == 5
    torch.testing.assert_close(net.contrastive_loss(hs, h), whole)


def test_graphs_learn_on_the_first_batch_of_an_epoch_and_rebuild_once_per_evaluation():
    data = small_data()
    net = build(data)
    net.train()
    batch = next(iter(BPRTrainLoader(data, 8, "cpu", seed=0)))
    net.calculate_loss(batch).backward()
    assert all(p.weight.grad is not None and p.weight.grad.abs().sum() > 0 for p in net.projections)
    net.zero_grad(set_to_none=True)
    net.calculate_loss(batch).backward()
    assert all(p.weight.grad is None for p in net.projections)  # detached graphs after the first batch
    assert net.fusion.query[0].weight.grad is not None  # the fusion learns on every batch
    builds = [s.builds for s in net.item_graph_schedules]
    net.eval()
    users = Interaction({"user_id": torch.tensor([0, 1])})
    net.full_sort_predict(users)
    net.full_sort_predict(users)
    assert [s.builds for s in net.item_graph_schedules] == [b + 1 for b in builds]


def test_any_number_of_modalities():
    data = small_data({"text": 5, "image": 6, "audio": 4})
    net = build(data)
    _, _, hs, _ = net.encode()
    assert len(hs) == 3 and net.fusion.weights(hs).shape == (data.n_items, 3)
