"""SEA: trains through the runner, the CLUB estimator has its own optimiser, and the paper's parts by hand."""

import math

import pytest
import torch
import torch.nn.functional as F

from missrec.data.general import BPRTrainLoader
from missrec.data.general.synthetic import planted_dataset
from missrec.errors import ConfigError
from missrec.models.graph.sea import split_generic_unique
from missrec.registry import get_model
from missrec.runner_general import build_general_config
from tests.models.graph.conftest import FAST


def build(data, **overrides):
    entry = get_model("SEA")
    config = build_general_config(entry.cls, "planted", (), {**FAST, **overrides})
    torch.manual_seed(0)
    return entry.cls(config, data)


def first_batch(data, rows=32):
    return next(iter(BPRTrainLoader(data, rows, "cpu", seed=0)))


def test_trains_two_epochs_through_the_runner_with_its_own_club_optimiser(run_with_aux_network):
    trainer, initial, data = run_with_aux_network("SEA", "club", club_steps=10)
    model = trainer.model
    batches = math.ceil(len(data.splits["train"]) / 32)
    assert model.club_optimizer.steps == 2 * batches * 10
    owned = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert not any(id(p) in owned for p in model.club.parameters())
    assert all(not p.requires_grad for p in model.club.parameters())
    assert all(id(p) in owned for p in model.generic_maps.parameters())  # A_m, B_m are trained by the main loss
    for key, before in initial.items():
        assert not torch.equal(model.club.state_dict()[key], before), key
    assert model.club_optimizer.optimizer.defaults["lr"] == 0.05  # club_learning_rate ~ = learning_rate
    last = trainer.history[-1]  # each weighted term's epoch mean, beside their sum
    assert sum(last[f"train_{name}"] for name in model.LOSS_TERMS) == pytest.approx(last["train_loss"], rel=1e-5)


def test_generic_unique_split_and_club_pairs_by_hand():
    h = torch.arange(10.0).view(2, 5)
    g, u = split_generic_unique(h)
    assert g.tolist() == [[0, 1], [5, 6]] and u.tolist() == [[2, 3, 4], [7, 8, 9]]
    data = planted_dataset(seed=0)  # text 16, image 24
    model = build(data)
    assert [m.in_features for m in model.generic_maps] == [8, 12]
    assert [m.in_features for m in model.unique_maps] == [8, 12]
    assert [m.out_features for m in model.modality_maps] == [16, 24]
    mapped = [w(x) for w, x in zip(model.modality_maps, model.features())]
    pairs = model.club_pairs(mapped)
    for (x, y), a, b, hm in zip(pairs, model.generic_maps, model.unique_maps, mapped):
        torch.testing.assert_close(x, hm[:, : hm.shape[1] // 2] @ a.weight.T + a.bias)
        torch.testing.assert_close(y, hm[:, hm.shape[1] // 2 :] @ b.weight.T + b.bias)


def club_by_hand(club, x, y, perm):
    mu, logvar = club.p_mu(x), club.p_logvar(x)
    positive = (-((mu - y) ** 2) / logvar.exp()).sum(1)
    negative = (-((mu - y[perm]) ** 2) / logvar.exp()).sum(1)
    return max(float((positive - negative).mean()) / 2, 0.0)


def test_club_term_by_hand():
    data = planted_dataset(seed=0)
    model = build(data)
    with torch.no_grad():
        mapped = [w(x) for w, x in zip(model.modality_maps, model.features())]
        xs = [x for x, _ in model.club_pairs(mapped)]
        pairs = [(x, model.club.p_mu(x) + 0.1 * torch.randn_like(x)) for x in xs]  # y close to mu(x): positive bound
        torch.manual_seed(5)
        value = model.club_loss(pairs)
        torch.manual_seed(5)
        perms = [torch.randperm(48) for _ in pairs]
        expected = sum(club_by_hand(model.club, x, y, p) for (x, y), p in zip(pairs, perms)) / 2
    assert value.item() == pytest.approx(expected, rel=1e-5) and expected > 0
    model.train()
    batch = first_batch(data)
    model.calculate_loss(batch)
    model.aux_step(batch)  # a trained estimator sees the dependence of the two halves
    torch.manual_seed(5)
    bpr, club, solo = model.calculate_loss(batch)
    torch.manual_seed(5)
    with torch.no_grad():
        out = model.encode()
        raw = model.club_loss(model.club_pairs(out.mapped))
    assert raw.item() > 0 and club.item() == pytest.approx(0.006 * raw.item(), rel=1e-5)  # ureg


def test_solosim_aligns_generic_parts_with_text_anchoring():
    data = planted_dataset(seed=0)
    model = build(data)
    model.train()
    with torch.no_grad():
        mapped = [w(x) for w, x in zip(model.modality_maps, model.features())]
        z = [head(h[:, : h.shape[1] // 2]) for head, h in zip(model.heads, mapped)]
        loss = model.solosim_loss(mapped)
    text, image = data.modalities.index("text"), data.modalities.index("image")
    assert model.anchor == text
    zt, zv = z[text], z[image]
    logits = zt @ zv.T / 0.2  # both L2-normalised: cosine / temp, text anchors, image candidates
    expected = -(logits.diag() - torch.logsumexp(logits, 1)).mean()
    torch.testing.assert_close(loss, expected)
    assert float(z[image].norm(dim=1).mean()) == pytest.approx(1.0, rel=1e-5) and z[image].shape == (48, 32)
    with pytest.raises(ConfigError, match="solosim_anchor 'audio'"):
        build(data, solosim_anchor="audio")
    single = build(planted_dataset(dims={"text": 8}, seed=0), modality_weights={"text": 1.0})
    assert single.solosim_loss([single.modality_maps[0](single.features()[0])]).item() == 0.0


def test_forward_is_the_documented_composition():
    data = planted_dataset(seed=0)
    model = build(data)
    model.eval()
    users, items = model.forward()
    assert users.shape == (60, 128) and items.shape == (48, 128)
    adj = model.norm_adj.to_dense()
    n = 60 + 48
    train = torch.from_numpy(data.splits["train"])
    dense = torch.zeros(n, n)
    dense[train[:, 0], train[:, 1] + 60] = 1.0
    dense[train[:, 1] + 60, train[:, 0]] = 1.0
    deg = dense.sum(1)
    inv = torch.where(deg > 0, deg.pow(-0.5), torch.zeros_like(deg))
    torch.testing.assert_close(adj, inv[:, None] * dense * inv[None, :])  # PyG-SYM
    reps = []
    for gcn, w, x in zip(model.gcns, model.modality_maps, model.features()):
        f = gcn.mlp_out(F.leaky_relu(gcn.mlp_in(w(x))))
        h0 = F.normalize(torch.cat([gcn.preference, f]), dim=1)
        reps.append(h0 + adj @ h0 + adj @ adj @ h0)
    weight = model.user_modality_weight
    torch.testing.assert_close(users, torch.cat([weight[:, :1] * reps[0][:60], weight[:, 1:] * reps[1][:60]], 1))
    r = torch.cat([reps[0][60:], reps[1][60:]], 1)
    s = model.mm_adj.to_dense()
    torch.testing.assert_close(items, r + s @ r, atol=1e-5, rtol=1e-5)
    assert torch.allclose(s.sum(1), torch.ones(48))  # unweighted kNN: every row holds k entries of 1/k, mixed
    assert torch.allclose(weight.sum(1), torch.ones(60))  # initialised as a softmax over modalities


def test_aux_step_trains_the_estimator_on_the_batch_pairs():
    data = planted_dataset(seed=0)
    model = build(data, club_steps=30)
    model.train()
    batch = first_batch(data)
    sum(model.calculate_loss(batch)).backward()
    assert all(p.grad is None for p in model.club.parameters())  # the bound passes through the frozen estimator
    pairs = list(model._club_pairs)
    with torch.no_grad():
        before = sum(model.club.learning_loss(x, y) for x, y in pairs).item()
    last = model.aux_step(batch)
    with torch.no_grad():
        after = sum(model.club.learning_loss(x, y) for x, y in pairs).item()
    assert after < before and last == pytest.approx(after, rel=0.05)
    assert model.club_optimizer.steps == 30 and model._club_pairs == []
    assert model.aux_step(batch) is None  # nothing new to learn from
    assert all(not p.requires_grad and p.grad is None for p in model.club.parameters())
    model.zero_grad(set_to_none=True)
    sum(model.calculate_loss(batch)).backward()  # with a trained estimator the bound is positive and pushes A_m, B_m
    assert all(m.weight.grad.abs().sum() > 0 for m in [*model.generic_maps, *model.unique_maps])
    assert all(p.grad is None for p in model.club.parameters())


def test_bpr_log_base_switch():
    data = planted_dataset(seed=0)
    batch = first_batch(data)
    released = build(data, ureg=0.0, alpha_contrast=0.0)
    textbook = build(data, ureg=0.0, alpha_contrast=0.0, bpr_log_base="e")
    released.eval(), textbook.eval()
    log2 = released.calculate_loss(batch)[0].item()
    ln = textbook.calculate_loss(batch)[0].item()
    assert log2 == pytest.approx(ln / math.log(2), rel=1e-5)


def test_any_number_of_modalities():
    data = planted_dataset(dims={"text": 8, "image": 12, "audio": 6}, seed=1)
    model = build(data, modality_weights={"text": 0.5, "image": 0.3, "audio": 0.2})
    losses = model.calculate_loss(first_batch(data))
    assert all(torch.isfinite(t) for t in losses)
    model.eval()
    users, items = model.forward()
    assert users.shape == (60, 192) and items.shape == (48, 192)
    assert model.user_modality_weight.shape == (60, 3)
