"""MMSSL: trains through the runner, the discriminator has its own optimiser, and the paper's parts by hand."""

import math

import pytest
import torch
import torch.nn.functional as F

from missrec.data.general import BPRTrainLoader
from missrec.data.general.synthetic import planted_dataset
from missrec.models.graph.mmssl import GP_SCALE
from missrec.models.graph.mmssl_graphs import ModalityGraphs, generated_k
from missrec.models.graph.mmssl_modules import Discriminator, ModalityAttention, discriminator_widths
from missrec.modules.losses import gradient_penalty
from missrec.registry import get_model
from missrec.runner_general import build_general_config
from tests.models.graph.conftest import FAST


def build(data, **overrides):
    entry = get_model("MMSSL")
    config = build_general_config(entry.cls, "planted", (), {**FAST, **overrides})
    torch.manual_seed(0)
    return entry.cls(config, data)


def user_batch(data, rows=32, epoch=0):
    loader = BPRTrainLoader(data, rows, "cpu", seed=0, sampler="user")
    loader.set_epoch(epoch)
    return list(loader)


def test_trains_two_epochs_through_the_runner_with_its_own_discriminator_optimiser(run_with_aux_network):
    trainer, initial, data = run_with_aux_network("MMSSL", "discriminator")
    model = trainer.model
    batches = len(data.splits["train"]) // 32 + 1  # the user sampler
    assert model.discriminator_optimizer.steps == 2 * batches
    owned = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert not any(id(p) in owned for p in model.discriminator.parameters())
    assert all(not p.requires_grad for p in model.discriminator.parameters())
    assert any(id(p) in owned for p in model.attention.parameters())
    final = model.discriminator.state_dict()
    assert not torch.equal(final["net.0.weight"], initial["net.0.weight"])
    assert not torch.equal(final["net.8.weight"], initial["net.8.weight"])
    assert isinstance(trainer.optimizer, torch.optim.AdamW) and trainer.optimizer.defaults["weight_decay"] == 0.01
    last = trainer.history[-1]  # each weighted term's epoch mean, beside their sum
    terms = [last[f"train_{name}"] for name in model.LOSS_TERMS]
    assert sum(terms) == pytest.approx(last["train_loss"], rel=1e-5)


def test_attention_is_a_real_softmax_attention_over_modalities():
    torch.manual_seed(0)
    attention = ModalityAttention(dim=4, n_heads=2)
    x = torch.randn(3, 2, 4)  # M=3 modalities, N=2 nodes, d=4
    out, weights = attention(x)
    q, k, v = attention.w_q(x), attention.w_k(x), attention.w_v(x)
    expected = torch.zeros(3, 2, 4)
    for n in range(2):
        for h in range(2):
            cols = slice(2 * h, 2 * h + 2)
            for m in range(3):
                scores = torch.stack([(q[m, n, cols] @ k[j, n, cols]).detach() / math.sqrt(2) for j in range(3)])
                alpha = torch.softmax(scores, 0)
                torch.testing.assert_close(weights[n, h, m], alpha)
                expected[m, n, cols] = sum(alpha[j] * v[j, n, cols] for j in range(3))
    torch.testing.assert_close(out, attention.w_o(expected))
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 3))
    assert weights.std() > 0.05  # the weights depend on the input, they are not uniform
    doubled, _ = attention(2 * x)
    assert (doubled - 2 * out).abs().max() > 1e-3  # not a linear map (the released block is one)
    # each modality's output mixes the other modalities' values: changing modality 2 changes modality 0's output
    x2 = x.clone()
    x2[2] += 1.0
    assert (attention(x2)[0][0] - out[0]).abs().max() > 1e-3


def test_discriminator_leaky_relu_slope_and_shape():
    net = Discriminator(48, negative_slope=0.01)
    slopes = [m.negative_slope for m in net.net if isinstance(m, torch.nn.LeakyReLU)]
    assert slopes == [0.01, 0.01]
    assert [m.out_features for m in net.net if isinstance(m, torch.nn.Linear)] == [12, 6, 1]
    act = net.net[1]
    torch.testing.assert_close(act(torch.tensor([-2.0, 3.0])), torch.tensor([-0.02, 3.0]))
    released = Discriminator(48, negative_slope=1.0)  # LeakyReLU(True): the identity
    torch.testing.assert_close(released.net[1](torch.tensor([-2.0, 3.0])), torch.tensor([-2.0, 3.0]))
    out = net(torch.rand(5, 48))
    out = out.detach()
    assert out.shape == (5,) and float(out.min()) > 0 and float(out.max()) < 100
    model = build(planted_dataset(seed=0))
    assert [m.negative_slope for m in model.discriminator.net if isinstance(m, torch.nn.LeakyReLU)] == [0.01, 0.01]
    assert build(planted_dataset(seed=0), D_leaky_slope=1.0).discriminator.net[1].negative_slope == 1.0


def test_discriminator_width_cap_is_off_by_default():
    assert discriminator_widths(63_001) == [63_001, 15_750, 7_875]  # released: ~1.1e9 weights at Elec
    assert discriminator_widths(63_001, 4096) == [63_001, 4096, 2048]
    assert discriminator_widths(48, 4096) == [48, 12, 6]  # a cap above I/4 changes nothing
    capped = Discriminator(48, max_width=8)
    assert [m.out_features for m in capped.net if isinstance(m, torch.nn.Linear)] == [8, 4, 1]
    assert build(planted_dataset(seed=0)).discriminator.net[0].out_features == 12  # props: D_max_width ~
    assert build(planted_dataset(seed=0), D_max_width=8).discriminator.net[0].out_features == 8
    with pytest.raises(ValueError, match="max_width"):
        Discriminator(48, max_width=1)


def test_discriminator_loss_and_step_by_hand():
    data = planted_dataset(seed=0)
    model = build(data)
    real, fake = torch.rand(6, 48), torch.rand(6, 48)
    model.discriminator.eval()  # no dropout, BatchNorm running statistics: deterministic
    torch.manual_seed(1)
    loss = model.discriminator_loss(real, fake)
    torch.manual_seed(1)
    gp = gradient_penalty(model.discriminator, real, fake)
    d = model.discriminator
    expected = -d(real).mean() + d(fake).mean() + 1.0 * GP_SCALE * gp
    torch.testing.assert_close(loss, expected)
    model.discriminator.train()
    before = [p.clone() for p in model.discriminator.parameters()]
    others = [p.clone() for p in model.feature_encoders.parameters()]
    model.discriminator_step(real, fake)
    assert all(not torch.equal(a, b) for a, b in zip(before[:2], list(model.discriminator.parameters())[:2]))
    assert all(torch.equal(a, b) for a, b in zip(others, model.feature_encoders.parameters()))
    opt = model.discriminator_optimizer.optimizer
    assert opt.defaults["lr"] == 0.0003 and opt.defaults["betas"] == (0.5, 0.9)


def test_real_distribution_and_predictions_by_hand():
    data = planted_dataset(seed=0)
    model = build(data, log_log_scale=0.0)  # no Gumbel noise: r = norm(softmax(R_u) + 100 s_u)
    mask = torch.zeros(2, 48, dtype=torch.bool)
    mask[0, [1, 2]] = True
    mask[1, 5] = True
    user = torch.randn(2, 4)
    item = torch.randn(48, 4)
    s = model.predictions(user, item, mask)
    raw = user @ item.T
    raw[0, [1, 2]] = 0.0
    raw[1, 5] = 0.0
    torch.testing.assert_close(s, raw / raw.norm(dim=1, keepdim=True))
    r = model.real_distribution(mask, s)
    e = math.e
    soft = torch.full((2, 48), 1.0)
    soft[0] /= 2 * e + 46
    soft[0, [1, 2]] *= e
    soft[1] /= e + 47
    soft[1, 5] *= e
    expected = soft + 100 * s
    torch.testing.assert_close(r, expected / expected.norm(dim=1, keepdim=True))
    rows = model.train_mask(torch.tensor([3, 0]))
    train = data.splits["train"]
    for row, u in zip(rows, (3, 0)):
        assert set(torch.nonzero(row).flatten().tolist()) == set(train[train[:, 0] == u, 1])


def test_modality_graphs_keep_the_observed_edges_and_add_the_predicted_new_items():
    data = planted_dataset(seed=0)
    model = build(data)
    assert model.modality_graphs.k == 1 == generated_k(48, 1e-4, legacy=False)
    n_train = len(data.splits["train"])
    model.train()
    for batch in user_batch(data)[:3]:
        model.calculate_loss(batch)
    table = model.modality_graphs.generated_items
    seen_users = torch.unique(torch.cat([b["user_id"] for b in user_batch(data)[:3]]))
    assert bool((table[:, seen_users] >= 0).all())
    mask = model.train_mask(seen_users)
    assert not bool(mask.gather(1, table[0, seen_users]).any())  # generated items are new items
    for p_m, q_m in model.modality_graphs.operators():
        assert p_m._nnz() == n_train + len(seen_users)  # observed + one generated item per seen user
        assert q_m._nnz() == n_train + len(seen_users)
        assert bool((torch.sparse.sum(p_m, 1).to_dense() > 0).all())  # no user without edges
    with torch.no_grad():
        out = model.encode()
    assert all(float(z.norm(dim=1).min()) > 0 for z in out.id_users)  # the ID-attention path is alive


def test_generated_items_follow_the_top_scores_and_survive_a_checkpoint():
    users, items = torch.tensor([0, 0, 1]), torch.tensor([0, 1, 2])
    graphs = ModalityGraphs(users, items, n_users=2, n_items=4, n_modalities=1, k=1)
    scores = torch.tensor([[0.0, 0.0, 0.2, 0.9], [0.5, 0.1, 0.0, 0.3]])
    mask = torch.tensor([[True, True, False, False], [False, False, True, False]])
    graphs.observe(torch.tensor([0, 1]), [scores], mask)
    assert graphs.generated_items[0].tolist() == [[3], [0]]
    p, q = graphs.operators()[0]
    dense_p = p.to_dense()
    expected = torch.tensor([[1.0, 1, 0, 1], [1, 0, 1, 0]]) / torch.tensor([[3.0], [2.0]]).sqrt()
    torch.testing.assert_close(dense_p, expected, atol=1e-6, rtol=1e-6)
    copy = ModalityGraphs(users, items, n_users=2, n_items=4, n_modalities=1, k=1)
    copy.operators()
    copy.load_state_dict(graphs.state_dict())
    torch.testing.assert_close(copy.operators()[0][0].to_dense(), dense_p)  # rebuilt after loading


def test_legacy_modality_graphs_empty_from_the_third_batch():
    data = planted_dataset(seed=0)
    users, items = torch.tensor([0, 1]), torch.tensor([0, 1])
    assert generated_k(7050, 1e-4, legacy=True) == 0 and generated_k(18357, 1e-4, legacy=True) == 1
    graphs = ModalityGraphs(users, items, n_users=3, n_items=4, n_modalities=1, k=1, legacy=True)
    scores = [torch.tensor([[0.1, 0.2, 0.9, 0.0], [0.7, 0.0, 0.0, 0.1]])]
    mask = torch.zeros(2, 4, dtype=torch.bool)
    assert graphs.operators()[0][0]._nnz() == 2  # starts as the observed graph
    graphs.observe(torch.tensor([0, 1]), scores, mask)  # batch 0: collects
    assert graphs.operators()[0][0]._nnz() == 2
    graphs.observe(torch.tensor([2]), [scores[0][:1]], mask[:1])  # batch 1: rebuilds from batch 0, observed dropped
    assert sorted(graphs.operators()[0][0].coalesce().indices().T.tolist()) == [[0, 2], [1, 0]]
    graphs.observe(torch.tensor([0, 1]), scores, mask)  # batch 2: rebuilds from nothing
    assert graphs.operators()[0][0]._nnz() == 0
    graphs.new_epoch()
    graphs.observe(torch.tensor([0, 1]), scores, mask)  # next epoch, batch 0: collects, graph still empty
    assert graphs.operators()[0][0]._nnz() == 0

    model = build(data, legacy_modality_graphs=True)  # k = int(48 * 1e-4) = 0: nothing is ever generated
    model.train()
    for batch in user_batch(data)[:3]:
        model.calculate_loss(batch)
    assert all(p._nnz() == 0 for p, _ in model.modality_graphs.operators())
    with torch.no_grad():
        out = model.encode()
    assert all(float(z.abs().max()) == 0.0 for z in out.id_users)  # the released dead path
    intent = build(data)
    for batch in user_batch(data)[:3]:
        intent.calculate_loss(batch)
    assert all(p._nnz() > 0 for p, _ in intent.modality_graphs.operators())


def test_generator_terms_reach_the_encoders_not_the_discriminator():
    data = planted_dataset(seed=0)
    model = build(data)
    model.train()
    model.calculate_loss(user_batch(data)[0])  # the modality graphs start equal (observed): uniform attention
    bpr, feat_reg, contrastive, generator = model.calculate_loss(user_batch(data)[1])
    assert contrastive.item() > 0 and generator.item() < 0 and feat_reg.item() > 0
    generator.backward(retain_graph=True)
    assert all(p.grad is None for p in model.discriminator.parameters())
    assert model.feature_encoders[0].weight.grad.abs().sum() > 0
    assert model.user_embedding.weight.grad is None  # s^m depends on the features only
    model.zero_grad(set_to_none=True)
    contrastive.backward()
    assert model.attention.w_q.weight.grad.abs().sum() > 0  # the attention is trained through the GRACE loss
    skipped = build(data, G_rate=0.0)
    skipped.calculate_loss(user_batch(data)[0])
    assert skipped.discriminator_optimizer.steps == 0


@pytest.mark.parametrize("modalities", [{"text": 8}, {"text": 8, "image": 12, "audio": 4}])
def test_any_number_of_modalities(modalities):
    data = planted_dataset(dims=modalities, seed=1)
    model = build(data)
    losses = model.calculate_loss(user_batch(data)[0])
    assert all(torch.isfinite(t) for t in losses)
    assert model.modality_graphs.generated_items.shape == (len(modalities), 60, 1)
    model.eval()
    users, items = model.forward()
    assert users.shape == (60, 64) and items.shape == (48, 64)


def test_forward_is_the_documented_composition():
    data = planted_dataset(seed=0)
    model = build(data)
    model.eval()
    out = model.encode()
    p, q = model.ui_op.to_dense(), model.iu_op.to_dense()
    feats = [enc(x) for enc, x in zip(model.feature_encoders, model.features())]  # eval: no dropout
    fu = [p @ f for f in feats]
    fi = [q @ u for u in fu]
    torch.testing.assert_close(out.feat_users[0], fu[0])
    torch.testing.assert_close(out.feat_items[1], fi[1])
    e_u, e_i = model.user_embedding.weight, model.item_embedding.weight
    graphs = [(a.to_dense(), b.to_dense()) for a, b in model.modality_graphs.operators()]
    z_u = model.attention(torch.stack([pm @ e_i for pm, _ in graphs]))[0].mean(0)
    z_i = model.attention(torch.stack([qm @ e_u for _, qm in graphs]))[0].mean(0)
    u, i = e_u + 0.36 * F.normalize(z_u, dim=1), e_i + 0.36 * F.normalize(z_i, dim=1)
    us, its = [u], [i]
    for layer in range(2):
        u = p @ i
        u = torch.softmax(u, -1) if layer == 1 else u
        i = q @ u
        i = torch.softmax(i, -1) if layer == 1 else i
        us.append(u)
        its.append(i)
    users = torch.stack(us).mean(0) + 0.55 * sum(F.normalize(f, dim=1) for f in fu)
    items = torch.stack(its).mean(0) + 0.55 * sum(F.normalize(f, dim=1) for f in fi)
    torch.testing.assert_close(out.users, users, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.items, items, atol=1e-5, rtol=1e-5)
