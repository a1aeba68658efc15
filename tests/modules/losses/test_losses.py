"""Losses against hand-computed values."""

import math

import pytest
import torch
import torch.nn.functional as F

from missrec.modules.losses import (
    CLUBSample,
    bpr_loss,
    byol_cosine,
    club_estimator_step,
    gradient_penalty,
    info_nce,
    kd_feature,
    kd_response,
    l2_regulariser,
    semantic_ce,
)


def test_bpr_variants():
    pos, neg = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 0.0])
    expected = -(math.log(1 / (1 + math.exp(-2))) + math.log(0.5)) / 2
    assert bpr_loss(pos, neg).item() == pytest.approx(expected, rel=1e-6)
    assert bpr_loss(pos, neg, eps=1e-10).item() == pytest.approx(expected, rel=1e-6)
    assert bpr_loss(pos, neg, log_base="2").item() == pytest.approx(expected / math.log(2), rel=1e-6)
    assert math.isfinite(bpr_loss(torch.tensor([-200.0]), torch.tensor([0.0])).item())  # stable logsigmoid


def test_regulariser_styles():
    a = torch.tensor([[3.0, 4.0], [0.0, 0.0]])  # ||a||_F = 5
    b = torch.tensor([[1.0, 0.0], [0.0, 0.0]])  # ||b||_F = 1
    assert l2_regulariser(a, b, style="frobenius").item() == pytest.approx((5 + 1) / 2)  # MMRec EmbLoss
    assert l2_regulariser(a, b, style="half_squared").item() == pytest.approx(0.5 * (25 + 1) / 2)
    assert l2_regulariser(a, b, style="half_squared", denominator=13).item() == pytest.approx(0.5 * 26 / 13)
    assert l2_regulariser(a, b, style="mean_squared").item() == pytest.approx(25 / 4 + 1 / 4)
    with pytest.raises(ValueError):
        l2_regulariser(a, style="squared")


def _reference_info_nce(z1, z2, tau, intra):
    a, b = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    losses = []
    for i in range(len(a)):
        between = [math.exp(float(a[i] @ b[j]) / tau) for j in range(len(b))]
        denom = sum(between)
        if intra:
            denom += sum(math.exp(float(a[i] @ a[j]) / tau) for j in range(len(a)) if j != i)
        losses.append(-math.log(between[i] / denom))
    return sum(losses) / len(losses)


@pytest.mark.parametrize("intra", [False, True])
def test_info_nce_matches_the_formula_and_is_chunk_invariant(intra):
    gen = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(7, 4, generator=gen), torch.randn(7, 4, generator=gen)
    expected = _reference_info_nce(z1, z2, 0.5, intra)
    assert info_nce(z1, z2, 0.5, intra).item() == pytest.approx(expected, rel=1e-5)
    assert info_nce(z1, z2, 0.5, intra, chunk_rows=3).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("intra", [False, True])
def test_info_nce_recomputed_chunks_give_the_one_chunk_gradients(intra):
    gen = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(9, 4, generator=gen), torch.randn(9, 4, generator=gen)
    grads = []
    for chunk_rows in (9, 2):  # one chunk (kept activations) vs five recomputed chunks
        x1, x2 = z1.clone().requires_grad_(), z2.clone().requires_grad_()
        info_nce(x1, x2, 0.5, intra, chunk_rows=chunk_rows).backward()
        grads.append((x1.grad, x2.grad))
    torch.testing.assert_close(grads[0], grads[1])


def _autograd_info_nce(z1, z2, tau, intra):
    """The loss as plain autograd builds it: all logits at once, the self-similarity masked by -inf."""
    a, b = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    logits = a @ b.T / tau
    if intra:
        logits = torch.cat([logits, (a @ a.T / tau).fill_diagonal_(float("-inf"))], 1)
    return (torch.logsumexp(logits, 1) - logits.diagonal()).mean()


@pytest.mark.parametrize("intra", [False, True])
@pytest.mark.parametrize("tau", [0.5, 0.001])  # 0.001: logits may span 2,000, wider than a float64 shift allows
def test_info_nce_gradients_match_autograd_of_the_formula(intra, tau):
    gen = torch.Generator().manual_seed(2)
    z1, z2 = (torch.randn(11, 5, generator=gen, dtype=torch.float64) for _ in range(2))
    x1, x2 = z1.clone().requires_grad_(), z2.clone().requires_grad_()
    expected = _autograd_info_nce(x1, x2, tau, intra)
    expected.backward()
    for chunk_rows in (11, 4):  # the block kept for backward, and recomputed there
        y1, y2 = z1.clone().requires_grad_(), z2.clone().requires_grad_()
        loss = info_nce(y1, y2, tau, intra, chunk_rows=chunk_rows)
        loss.backward()
        torch.testing.assert_close(loss, expected)
        torch.testing.assert_close((y1.grad, y2.grad), (x1.grad, x2.grad))


@pytest.mark.parametrize("intra", [False, True])
def test_info_nce_when_every_logit_is_far_below_its_bound(intra):
    # orthogonal rows: every logit is 0, 1/τ = 1,000 above it, and exp(-1,000) is 0 even in float64
    z = torch.eye(8, dtype=torch.float64)
    z1, z2 = z[:4].clone().requires_grad_(), z[4:].clone().requires_grad_()
    loss = info_nce(z1, z2, 0.001, intra)
    assert loss.item() == pytest.approx(math.log(7 if intra else 4))
    loss.backward()
    x1, x2 = z[:4].clone().requires_grad_(), z[4:].clone().requires_grad_()
    _autograd_info_nce(x1, x2, 0.001, intra).backward()
    torch.testing.assert_close((z1.grad, z2.grad), (x1.grad, x2.grad))


def test_info_nce_backward_twice_gives_the_same_gradient():
    gen = torch.Generator().manual_seed(3)
    z1, z2 = torch.randn(6, 3, generator=gen, requires_grad=True), torch.randn(6, 3, generator=gen)
    loss = info_nce(z1, z2, 0.5, intra_view_negatives=True)
    loss.backward(retain_graph=True)
    first = z1.grad.clone()
    z1.grad = None
    loss.backward()
    torch.testing.assert_close(z1.grad, first)


def test_info_nce_keeps_its_sums_in_float32_under_autocast():
    gen = torch.Generator().manual_seed(4)
    z1, z2 = torch.randn(300, 8, generator=gen), torch.randn(300, 8, generator=gen)
    expected = info_nce(z1, z2, 0.5, intra_view_negatives=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = info_nce(z1, z2, 0.5, intra_view_negatives=True)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_info_nce_of_two_orthogonal_pairs():
    z = torch.eye(2)
    # s(i, i) = 1, s(i, j) = 0, tau = 1: -log(e / (e + 1))
    assert info_nce(z, z, 1.0).item() == pytest.approx(-math.log(math.e / (math.e + 1)))
    assert info_nce(z, z, 1.0, intra_view_negatives=True).item() == pytest.approx(-math.log(math.e / (math.e + 2)))


def test_byol_cosine_stops_the_target_gradient():
    online = torch.tensor([[1.0, 0.0]], requires_grad=True)
    target = torch.tensor([[1.0, 1.0]], requires_grad=True)
    loss = byol_cosine(online, target)
    assert loss.item() == pytest.approx(1 - 1 / math.sqrt(2))
    loss.backward()
    assert target.grad is None and online.grad is not None


def test_club_bound_and_estimator():
    torch.manual_seed(0)
    club = CLUBSample(3, 2, 16)
    x, y = torch.randn(5, 3), torch.randn(5, 2)
    gen = torch.Generator().manual_seed(3)
    perm = torch.randperm(5, generator=torch.Generator().manual_seed(3))
    mu, logvar = club.mu_logvar(x)
    positive = (-((mu - y) ** 2) / logvar.exp()).sum(1)
    negative = (-((mu - y[perm]) ** 2) / logvar.exp()).sum(1)
    raw = ((positive - negative).mean() / 2).item()
    assert club(x, y, generator=gen, nonnegative=False).item() == pytest.approx(raw, rel=1e-5)
    assert club(x, y, generator=torch.Generator().manual_seed(3)).item() == pytest.approx(max(raw, 0.0), abs=1e-6)
    # the estimator's own loop raises the log-likelihood of the paired samples
    y_dep = x[:, :2] * 2.0
    before = club.loglikeli(x, y_dep).item()
    optimizer = torch.optim.Adam(club.parameters(), lr=0.05)
    club_estimator_step(club, optimizer, [(x, y_dep)], steps=50)
    assert club.loglikeli(x, y_dep).item() > before


def test_distillation_terms():
    labels = torch.tensor([0])
    logits = torch.tensor([[2.0, 0.0]])
    assert semantic_ce(logits, labels).item() == pytest.approx(-math.log(math.exp(2) / (math.exp(2) + 1)))
    p = torch.softmax(logits, -1)
    assert semantic_ce(logits, labels, double_softmax=True).item() == pytest.approx(F.cross_entropy(p, labels).item())
    t, s = torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 0.0]])
    pt = math.exp(1) / (math.exp(1) + 1)  # softmax(t / 2)
    assert kd_response(t, s, 2.0, "l1").item() == pytest.approx(abs(pt - 0.5))
    assert kd_response(t, s, 2.0, "mse").item() == pytest.approx((pt - 0.5) ** 2)
    kl = pt * math.log(pt / 0.5) + (1 - pt) * math.log((1 - pt) / 0.5)
    assert kd_response(t, s, 2.0, "kl").item() == pytest.approx(kl, rel=1e-5)
    teacher = torch.tensor([[1.0, 2.0]], requires_grad=True)
    kd_feature(torch.zeros(1, 2, requires_grad=True), teacher, detach_teacher=True).backward()
    assert teacher.grad is None
    assert kd_feature(torch.zeros(1, 2), torch.tensor([[1.0, 3.0]])).item() == pytest.approx(5.0)


def test_gradient_penalty_of_a_linear_critic():
    w = torch.tensor([3.0, 4.0])
    penalty = gradient_penalty(lambda x: x @ w, torch.randn(6, 2), torch.randn(6, 2))
    assert penalty.item() == pytest.approx((5 - 1) ** 2)
