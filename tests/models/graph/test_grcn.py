"""GRCN on a 2-user, 3-item graph by hand: preference routing, content-graph attention, refined edge weights, the
weighted ID graph, the loss; and the legacy (released, no-op) routing switch.

Training two epochs through the runner on planted data (loss falls, beats random) is
``tests/models/graph/test_graph_models.py::test_model_trains_two_epochs_and_beats_random[GRCN]``.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from recbole.data.interaction import Interaction

from missrec.data.general import GeneralDataset
from missrec.data.general.synthetic import planted_dataset
from missrec.registry import get_model
from missrec.runner_general import build_general_config
from tests.models.graph.conftest import FAST

TRAIN = [(0, 0), (0, 1), (1, 1), (1, 2)]  # user 0: items 0, 1; user 1: items 1, 2
U, I = 2, 3


def tiny_data() -> GeneralDataset:
    gen = torch.Generator().manual_seed(0)
    return GeneralDataset(
        name="tiny",
        n_users=U,
        n_items=I,
        splits={"train": np.array(TRAIN), "valid": np.zeros((0, 2)), "test": np.zeros((0, 2))},
        features={"text": torch.randn(I, 4, generator=gen), "image": torch.randn(I, 5, generator=gen)},
    )


def build(data, **overrides):
    cls = get_model("GRCN").cls
    config = build_general_config(cls, "tiny", (), {**FAST, "latent_embedding": 3, "embedding_size": 4, **overrides})
    torch.manual_seed(0)
    return cls(config, data)


def neighbours(node: int) -> list[int]:
    """Sources of the messages node receives on the bidirectional graph (users 0..U-1, items U..)."""
    if node < U:
        return [U + i for u, i in TRAIN if u == node]
    return [u for u, i in TRAIN if U + i == node]


def hand_routing(p: torch.Tensor, f: torch.Tensor, iterations: int) -> torch.Tensor:
    for _ in range(iterations):
        new = p.clone()
        for u in range(U):
            items = [i for uu, i in TRAIN if uu == u]
            a = torch.softmax(f[items] @ p[u], 0)
            new[u] = F.normalize(p[u] + a @ f[items], dim=0)
        p = new
    return p


def hand_attention(x: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """GAT over all edges: (x_hat, {(source, target): alpha})."""
    x_hat, alpha = torch.zeros_like(x), {}
    for t in range(U + I):
        sources = neighbours(t)
        a = torch.softmax(x[sources] @ x[t], 0)
        x_hat[t] = a @ x[sources]
        alpha.update({(s, t): float(a[k]) for k, s in enumerate(sources)})
    return x_hat, alpha


def hand_forward(net, legacy: bool, pruning: bool = True, act: bool = False) -> torch.Tensor:
    reps, alphas = [], []
    for m, (pref, enc) in enumerate(zip(net.preferences, net.encoders)):
        x_raw = getattr(net, f"raw_feature_{m}")
        p = F.normalize(pref, dim=1)
        f = F.normalize(F.leaky_relu(x_raw @ enc.weight.T + enc.bias), dim=1)
        if not legacy:
            p = hand_routing(p, f, 3)
        x = torch.cat([p, f])
        x_hat, alpha = hand_attention(x)
        reps.append(x + (F.leaky_relu(x_hat) if act else x_hat))
        alphas.append(alpha)
    w = torch.zeros(U + I, U + I)  # w[t, s]
    for (s, t) in alphas[0]:
        value = max(alphas[m][(s, t)] * float(net.confidence[s, m]) for m in range(2))
        w[t, s] = max(value, 0.0) if pruning else value
    x = F.normalize(net.id_embedding, dim=1)
    hop = (lambda h: F.leaky_relu(h)) if act else (lambda h: h)
    x1 = hop(w @ x)
    id_rep = x + x1 + hop(w @ x1)
    return torch.cat([id_rep, *reps], 1)


@pytest.mark.parametrize("legacy,act", [(False, False), (True, False), (False, True)])
def test_representation_by_hand(legacy, act):
    data = tiny_data()
    net = build(data, legacy_noop_routing=legacy, has_act=act)
    users, items = net.forward()
    with torch.no_grad():
        expected = hand_forward(net, legacy, act=act)
    assert users.shape == (U, 4 + 2 * 3)
    torch.testing.assert_close(torch.cat([users, items]).detach(), expected)


def test_routing_moves_preferences_towards_their_items_and_legacy_does_not():
    data = tiny_data()
    fixed, legacy = build(data), build(data, legacy_noop_routing=True)
    torch.testing.assert_close(fixed.id_embedding, legacy.id_embedding)  # same initialisation
    with torch.no_grad():
        enc, x_raw = fixed.encoders[0], fixed.raw_feature_0
        f = F.normalize(F.leaky_relu(enc(x_raw)), dim=1)
        p0 = F.normalize(fixed.preferences[0], dim=1)
        routed = hand_routing(p0, f, 3)
        items_of_0 = f[[0, 1]].mean(0)
        assert float(routed[0] @ items_of_0) > float(p0[0] @ items_of_0)  # closer to user 0's items
        fixed_users = fixed.forward()[0][:, 4:7]
        legacy_users = legacy.forward()[0][:, 4:7]
    # user rows of rep_text = P + x_hat: P is routed in one, only normalised in the other (released no-op)
    assert not torch.allclose(fixed_users, legacy_users)
    x_hat_legacy = legacy_users - p0  # the released routing leaves P = norm(P)
    torch.testing.assert_close(x_hat_legacy, hand_attention(torch.cat([p0, f]))[0][:U])


def test_edge_pruning_switch():
    data = tiny_data()
    net = build(data, edge_pruning=False)
    with torch.no_grad():
        net.confidence.copy_(-net.confidence.abs())  # every weight negative: pruning would zero the ID graph
        expected = hand_forward(net, legacy=False, pruning=False)
        torch.testing.assert_close(torch.cat(net.forward()), expected)
        pruned = build(data)
        pruned.confidence.copy_(net.confidence)
        id_rep = torch.cat(pruned.forward())[:, :4]
    torch.testing.assert_close(id_rep, F.normalize(pruned.id_embedding, dim=1))  # x1 = x2 = 0


def test_loss_by_hand():
    data = tiny_data()
    net = build(data, reg_weight=0.1)
    batch = Interaction(
        {"user_id": torch.tensor([0, 1]), "item_id": torch.tensor([0, 2]), "neg_item_id": torch.tensor([2, 0])}
    )
    loss = net.calculate_loss(batch)
    with torch.no_grad():
        rep = hand_forward(net, legacy=False)
        u, pos, neg = rep[[0, 1]], rep[[U + 0, U + 2]], rep[[U + 2, U + 0]]
        bpr = -F.logsigmoid((u * pos).sum(1) - (u * neg).sum(1)).mean()
        e = net.id_embedding
        reg = (e[[0, 1]] ** 2).mean() + (e[[U + 0, U + 2, U + 2, U + 0]] ** 2).mean()
        reg = reg + sum((p[[0, 1]] ** 2).mean() for p in net.preferences)
    torch.testing.assert_close(loss.detach(), bpr + 0.1 * reg)


def test_prediction_recomputes_in_eval_mode_and_takes_any_number_of_modalities():
    data = planted_dataset(dims={"text": 8, "image": 12, "audio": 4}, seed=2)
    net = build(data)
    net.eval()
    users = Interaction({"user_id": torch.tensor([0, 3])})
    scores = net.full_sort_predict(users)
    with torch.no_grad():
        u, i = net.forward()
    torch.testing.assert_close(scores, u[[0, 3]] @ i.T)
    assert u.shape[1] == 4 + 3 * 3 and len(net.encoders) == 3
