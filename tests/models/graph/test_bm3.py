"""BM3: loss terms by hand (dense graph, fixed seed for the dropout targets), no negatives, predictor scoring.

Training two epochs through the runner on planted data (loss falls, beats random) is
``tests/models/graph/test_graph_models.py::test_model_trains_two_epochs_and_beats_random[BM3]``.
"""

import pytest
import torch
import torch.nn.functional as F
from recbole.data.interaction import Interaction

from missrec.data.general import BPRTrainLoader
from missrec.data.general.synthetic import planted_dataset
from missrec.modules.graph import bipartite_adj
from missrec.registry import get_model
from missrec.runner_general import build_general_config
from tests.models.graph.conftest import FAST


def build(data, **overrides):
    cls = get_model("BM3").cls
    config = build_general_config(cls, "planted", (), {**FAST, **overrides})
    torch.manual_seed(0)
    return cls(config, data)


def dense_encode(net, data):
    """LightGCN on the dense SYM matrix, one layer, plus the ID residual."""
    users, items = data.pairs("train")
    adj = bipartite_adj(users, items, data.n_users, data.n_items, "sym").to_dense()
    e0 = torch.cat([net.user_embedding.weight, net.item_embedding.weight])
    e = (e0 + adj @ e0) / 2
    return e[: data.n_users], e[data.n_users :] + net.item_embedding.weight


def cos_loss(a, b):
    return 1 - F.cosine_similarity(a, b, dim=-1).mean()


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_loss_terms_by_hand_with_a_fixed_seed(dropout):
    data = planted_dataset(seed=0)
    net = build(data, dropout=dropout, n_layers=1)
    users, items = torch.tensor([0, 3, 7, 7]), torch.tensor([1, 2, 5, 9])
    torch.manual_seed(3)
    terms = net.loss_terms(users, items)
    with torch.no_grad():
        user_all, item_all = dense_encode(net, data)
        u, i = user_all[users], item_all[items]
        torch.manual_seed(3)  # same draws, same order: user target, item target, then one per modality
        u_t, i_t = F.dropout(u, dropout), F.dropout(i, dropout)
        p = net.predictor
        rec = cos_loss(p(u), i_t) + cos_loss(p(i), u_t)
        align = mask = 0.0
        for encoder, x in zip(net.encoders, net.features):
            f = x[items] @ encoder.weight.T + encoder.bias
            align = align + cos_loss(p(f), i_t)
            mask = mask + cos_loss(p(f), F.dropout(f, dropout))
        reg = (user_all.norm() + item_all.norm()) / data.n_items
    torch.testing.assert_close(terms["rec"], rec)
    torch.testing.assert_close(terms["align"], align)
    torch.testing.assert_close(terms["mask"], mask)
    torch.testing.assert_close(terms["reg"], reg)


def test_targets_are_rescaled_dropout_views_without_gradient():
    data = planted_dataset(seed=0)
    net = build(data, dropout=0.5)
    x = torch.ones(200, 8, requires_grad=True)
    torch.manual_seed(0)
    target = net.target(x)
    assert not target.requires_grad
    assert set(target.unique().tolist()) == {0.0, 2.0}  # dropped or scaled by 1 / (1 - p)
    assert 0.4 < float((target == 0).float().mean()) < 0.6
    net.eval()
    assert set(net.target(x).unique().tolist()) == {0.0, 2.0}  # on whatever the module's mode


def test_no_negatives_and_predictor_scoring():
    data = planted_dataset(seed=0)
    net = build(data)
    assert net.NEEDS_NEGATIVES is False
    batch = next(iter(BPRTrainLoader(data, 32, "cpu", seed=0, negatives=False)))
    assert "neg_item_id" not in batch.interaction
    loss = net.calculate_loss(batch)
    loss.backward()
    assert torch.isfinite(loss) and net.encoders[0].weight.grad.abs().sum() > 0 and net.features[1].grad is not None
    net.eval()
    users = Interaction({"user_id": torch.tensor([0, 5])})
    scores = net.full_sort_predict(users)
    with torch.no_grad():
        e_u, e_i = dense_encode(net, data)
        expected = net.predictor(e_u[[0, 5]]) @ net.predictor(e_i).T
    torch.testing.assert_close(scores, expected)
    with torch.no_grad():  # the modality encoders are not used at prediction (BM3 issue #3)
        net.encoders[0].weight.add_(1.0)
    net.train()
    net.eval()
    torch.testing.assert_close(net.full_sort_predict(users), scores)


def test_any_number_of_modalities():
    data = planted_dataset(dims={"text": 8, "image": 12, "audio": 4}, seed=2)
    net = build(data)
    terms = net.loss_terms(torch.tensor([0, 1]), torch.tensor([2, 3]))
    assert len(net.encoders) == 3 and all(torch.isfinite(v) for v in terms.values())
