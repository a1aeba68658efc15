"""UniSRec: parameter counts by hand, MoE adaptor and gating by hand, causal encoder, scoring, end to end."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from recbole.data.interaction import Interaction

from missrec.config import build_config
from missrec.errors import ConfigError
from missrec.models.unisrec import UniSRec
from missrec.modules.adaptors import MoEAdaptor, WhiteningExpert
from missrec.runner import run_finetune
from missrec.transfer import count_trainable, freeze_encoder
from tests.conftest import tiny_overrides

SCIENTIFIC_ITEMS = 4386  # incl. PAD
RANDOM_HIT10 = 10 / 48  # the tiny dataset: 48 items, one target per user


class FakeDataset:
    """Just what RecBole's SequentialRecommender reads, plus modality features (row 0 = PAD = zeros)."""

    def __init__(self, n_items: int, dims: dict[str, int]) -> None:
        g = torch.Generator().manual_seed(0)
        self.modality_features = {m: torch.randn(n_items, d, generator=g).index_fill(0, torch.tensor([0]), 0.0)
                                  for m, d in dims.items()}
        self.n_items = n_items

    def num(self, field):
        return self.n_items


def model_for(tiny_data, n_items=20, dims=None, **overrides) -> UniSRec:
    cfg = build_config(UniSRec, "tiny", overrides={"data_path": str(tiny_data), "device": "cpu", **overrides})
    return UniSRec(cfg, FakeDataset(n_items, dims or {"text": 768}))


def small(tiny_data, stage="transductive_ft", n_items=12, dims=None, **overrides) -> UniSRec:
    return model_for(tiny_data, n_items, dims or {"text": 6}, hidden_size=8, n_heads=2, inner_size=8,
                     train_stage=stage, **overrides)


def batch(item_seq, lengths, targets) -> Interaction:
    return Interaction({"item_id_list": torch.tensor(item_seq), "item_length": torch.tensor(lengths),
                        "item_id": torch.tensor(targets)})


# ---- parameter counts (spec sizes: hidden 300, BERT 768-d text, 2 layers, 2 heads, FFN 256) -----------------------
MOE = 8 * (768 + 768 * 300) + 2 * 768 * 8  # 8 experts (b + W), W_gate, W_noise
LAYER = 4 * (300 * 300 + 300) + 2 * 300 + (300 * 256 + 256) + (256 * 300 + 300) + 2 * 300  # attention, FFN, 2 LNs
ENCODER_SIDE = 2 * LAYER + 50 * 300  # trm_encoder + position embedding: frozen by a transfer
INPUT_LN = 2 * 300


@pytest.mark.parametrize("stage,ids", [("inductive_ft", 0), ("transductive_ft", SCIENTIFIC_ITEMS * 300)])
def test_trainable_parameters_by_hand(tiny_data, stage, ids):
    model = model_for(tiny_data, n_items=SCIENTIFIC_ITEMS, train_stage=stage)
    assert count_trainable(model) == MOE + ENCODER_SIDE + INPUT_LN + ids == 2_910_344 + ids
    frozen = freeze_encoder(model)
    assert len(frozen) == 1 + 32 and all(n.startswith(("position_embedding.", "trm_encoder.")) for n in frozen)
    assert count_trainable(model) == MOE + INPUT_LN + ids == 1_862_232 + ids  # MoE, input LN (+ E) tuned (§8.4)
    assert not any("text_features" in k for k in model.state_dict())  # frozen features are rebuilt, not saved


def test_layers_follow_the_props(tiny_data):
    model = model_for(tiny_data)
    attention = model.trm_encoder.layer[0].multi_head_attention
    assert len(model.trm_encoder.layer) == 2 and attention.num_attention_heads == 2
    assert model.trm_encoder.layer[0].feed_forward.dense_1.out_features == 256
    assert model.LayerNorm.eps == 1e-12 and model.dropout.p == 0.5 and attention.attn_dropout.p == 0.5
    assert model.temperature == 0.07 and len(model.moe_adaptor.experts) == 8
    assert model.moe_adaptor.experts[0].dropout.p == 0.2


# ---- the MoE adaptor (§8.1) --------------------------------------------------------------------------------------
def test_adaptor_init(tiny_data):
    moe = model_for(tiny_data).moe_adaptor
    assert torch.equal(moe.w_gate, torch.zeros(768, 8)) and torch.equal(moe.w_noise, torch.zeros(768, 8))
    for expert in moe.experts:
        assert torch.equal(expert.bias, torch.zeros(768)) and expert.lin.bias is None
        assert expert.lin.weight.std().item() == pytest.approx(0.02, rel=0.02)
        assert expert.lin.weight.mean().abs().item() < 1e-3
    moe.eval()
    assert torch.allclose(moe.gates(torch.randn(5, 768)), torch.full((5, 8), 1 / 8))  # W_gate = 0: equal weights


def test_whitening_expert_by_hand():
    expert = WhiteningExpert(3, 2, dropout=0.2).eval()
    with torch.no_grad():
        expert.bias.copy_(torch.tensor([1.0, -2.0, 0.5]))
        expert.lin.weight.copy_(torch.tensor([[1.0, 0.0, 2.0], [0.0, -1.0, 1.0]]))
    x = torch.tensor([[2.0, 1.0, 0.5]])
    # x - b = [1, 3, 0] -> W (x - b) = [1 + 0 + 0, 0 - 3 + 0]
    assert torch.equal(expert(x), torch.tensor([[1.0, -3.0]]))


def hand_moe() -> MoEAdaptor:
    moe = MoEAdaptor(3, 2, n_exps=2, dropout=0.0)
    with torch.no_grad():
        moe.w_gate.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.5, -1.0]]))
        moe.w_noise.copy_(torch.tensor([[0.3, -0.2], [0.1, 0.0], [0.0, 0.4]]))
        moe.experts[0].lin.weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
        moe.experts[1].lin.weight.copy_(torch.tensor([[0.0, 0.0, 1.0], [1.0, 1.0, 1.0]]))
        moe.experts[1].bias.copy_(torch.tensor([1.0, 0.0, 0.0]))
    return moe


def test_gating_and_mixture_by_hand():
    moe = hand_moe().eval()
    x = torch.tensor([[1.0, 0.5, 2.0], [0.0, 1.0, -1.0]])
    # x W_gate: row 0 [1 + 0 + 1, 0 + 1 - 2] = [2, -1]; row 1 [0 + 0 - 0.5, 0 + 2 + 1] = [-0.5, 3]
    logits = torch.tensor([[2.0, -1.0], [-0.5, 3.0]])
    gates = torch.softmax(logits, -1)
    assert torch.allclose(moe.gates(x), gates)
    expert0 = torch.tensor([[1.0, 0.5], [0.0, 1.0]])  # x[:, :2]
    expert1 = torch.tensor([[2.0, 2.5], [-1.0, -1.0]])  # (x - [1, 0, 0]) -> [x3, sum]
    expected = gates[:, :1] * expert0 + gates[:, 1:] * expert1
    assert torch.allclose(moe(x), expected)
    assert torch.allclose(moe(x.unsqueeze(0)), expected.unsqueeze(0))  # [B, L, d] works the same


def test_gate_noise_by_hand_and_only_in_training():
    moe = hand_moe().train()
    x = torch.tensor([[1.0, 0.5, 2.0], [0.0, 1.0, -1.0]])
    torch.manual_seed(7)
    eps = torch.randn(2, 2)
    std = F.softplus(x @ moe.w_noise) + 0.01
    expected = torch.softmax(x @ moe.w_gate + eps * std, -1)
    torch.manual_seed(7)
    assert torch.allclose(moe.gates(x), expected)
    assert not torch.allclose(moe(x), moe(x))  # fresh noise every call (dropout is 0 here)
    moe.eval()
    assert torch.equal(moe(x), moe(x)) and torch.allclose(moe.gates(x), torch.softmax(x @ moe.w_gate, -1))


def random_moe(dropout: float = 0.0) -> MoEAdaptor:
    torch.manual_seed(3)
    moe = MoEAdaptor(6, 4, n_exps=3, dropout=dropout)
    with torch.no_grad():
        for param in moe.parameters():
            param.normal_()
    return moe


def experts_own_forward(moe: MoEAdaptor, x: torch.Tensor) -> torch.Tensor:
    """The paper's formula through each expert's forward: ``sum_k g_k W_k (dropout_k(x) - b_k)``."""
    gates = moe.gates(x).unsqueeze(-1)
    return (gates * torch.stack([expert(x) for expert in moe.experts], dim=-2)).sum(dim=-2)


@pytest.mark.parametrize("training", [False, True])
def test_fused_mixture_equals_the_experts_own_forward_and_gradients(training):
    ours, reference = random_moe(), random_moe()  # no dropout: the only randomness is the gate noise
    ours.train(training), reference.train(training)
    x = torch.randn(2, 5, 6)
    torch.manual_seed(11)
    got = ours(x)
    torch.manual_seed(11)
    want = experts_own_forward(reference, x)
    assert got.shape == (2, 5, 4) and torch.allclose(got, want, atol=1e-5)
    weights = torch.randn(2, 5, 4)
    (got * weights).sum().backward()
    (want * weights).sum().backward()
    for (name, a), b in zip(ours.named_parameters(), reference.parameters()):
        if b.grad is None:  # w_noise outside training
            assert a.grad is None and name == "w_noise" and not training
        else:
            assert torch.allclose(a.grad, b.grad, atol=1e-4), name


def test_every_expert_draws_its_own_dropout_mask():
    moe = MoEAdaptor(8, 8, n_exps=4, dropout=0.5).train()
    with torch.no_grad():
        moe.w_noise.fill_(-100.0)  # gate noise std 0.01: the gates stay ~1/4 each
        for expert in moe.experts:
            expert.lin.weight.copy_(torch.eye(8))
    out = moe(torch.ones(2000, 8))  # sum_k g_k * 2 * keep_k: 0, 0.5, ..., 2 kept experts; one shared mask: {0, 2}
    levels = torch.bincount((out * 2).round().long().flatten(), minlength=5)
    assert levels.numel() == 5 and (levels > 0).all()
    expected = torch.tensor([1, 4, 6, 4, 1]) / 16 * out.numel()  # kept experts ~ Binomial(4, 1/2)
    assert torch.allclose(levels.float(), expected, rtol=0.1)
    assert out.mean().item() == pytest.approx(1.0, abs=0.02)


# ---- sequence encoder and scores (§8.2, §8.4) ---------------------------------------------------------------------
def test_causal_attention_no_future_leak(tiny_data):
    model = small(tiny_data).eval()
    a = torch.tensor([[1, 2, 3, 4, 5]])
    b = torch.tensor([[1, 2, 3, 9, 7]])  # differs only after position 2
    for length in (1, 2, 3):
        n = torch.tensor([length])
        assert torch.allclose(model(a, n), model(b, n), atol=1e-6)
    assert not torch.allclose(model(a, torch.tensor([5])), model(b, torch.tensor([5])), atol=1e-3)


def test_padding_never_reaches_a_real_position(tiny_data):
    model = small(tiny_data).eval()
    padded = model(torch.tensor([[1, 2, 3, 0, 0]]), torch.tensor([3]))
    assert torch.allclose(padded, model(torch.tensor([[1, 2, 3]]), torch.tensor([3])), atol=1e-6)


def test_every_position_draws_its_own_adaptor_noise_in_training(tiny_data):
    model = small(tiny_data)
    item_seq = torch.tensor([[4, 4, 4, 0]])
    emb = model.sequence_item_embeddings(item_seq)  # training: dropout and gate noise per position
    assert not torch.allclose(emb[0, 0], emb[0, 1]) and torch.equal(emb[0, 3], torch.zeros(8))
    model.eval()
    table = model.moe_adaptor(model.text_features)
    assert torch.equal(model.sequence_item_embeddings(item_seq), table[item_seq])


def test_scores_by_hand(tiny_data):
    for stage in ("transductive_ft", "inductive_ft"):
        model = small(tiny_data, stage).eval()
        assert (model.item_embedding is None) == (stage == "inductive_ft")
        seq = torch.randn(2, 8)
        items = model.moe_adaptor(model.text_features)
        if stage == "transductive_ft":
            items = items + model.item_embedding.weight  # added before normalisation
        logits = model.score_items(seq, model.item_representations())
        for b in range(2):
            for j in range(12):
                cosine = F.cosine_similarity(seq[b], items[j], 0).item()
                assert logits[b, j].item() == pytest.approx(cosine / 0.07, abs=1e-4)


def test_transductive_input_adds_the_id_embedding(tiny_data):
    model = small(tiny_data).eval()
    seq, n = torch.tensor([[3, 4, 5]]), torch.tensor([3])
    before = model(seq, n)
    with torch.no_grad():
        model.item_embedding.weight[4] += torch.linspace(-1, 1, 8)  # not a constant: LayerNorm would remove that
    assert not torch.allclose(before, model(seq, n))


def test_loss_is_ce_without_the_pad_column(tiny_data):
    model = small(tiny_data).eval()
    inter = batch([[1, 2, 3, 0], [4, 5, 6, 7]], [3, 4], [4, 8])
    seq = model(inter["item_id_list"], inter["item_length"])
    logits = model.score_items(seq, model.item_representations())
    lse = torch.logsumexp(logits[:, 1:], dim=1)  # PAD (column 0) is not in the softmax
    expected = (lse - logits[torch.arange(2), inter["item_id"]]).mean()
    assert model.calculate_loss(inter).item() == pytest.approx(expected.item(), rel=1e-5)
    full = model.full_sort_predict(inter)
    assert full.shape == (2, 12) and model.predict(inter)[1].item() == pytest.approx(full[1, 8].item())


def test_gradients_reach_adaptor_ids_and_encoder_not_features(tiny_data):
    model = small(tiny_data)
    model.calculate_loss(batch([[1, 2, 3, 0], [4, 5, 6, 7]], [3, 4], [4, 8])).backward()
    assert model.moe_adaptor.experts[0].lin.weight.grad.abs().sum() > 0
    assert model.moe_adaptor.w_gate.grad.abs().sum() > 0  # noisy gates are not uniform, so W_gate learns
    assert model.item_embedding.weight.grad.abs().sum() > 0
    assert model.trm_encoder.layer[1].feed_forward.dense_2.weight.grad.abs().sum() > 0
    assert not model.text_features.requires_grad and "text_features" not in dict(model.named_parameters())


def test_one_text_modality_is_read_and_named_by_a_key(tiny_data):
    dims = {"text": 6, "image": 5}
    assert small(tiny_data, dims=dims).moe_adaptor.w_gate.shape == (6, 8)
    assert small(tiny_data, dims=dims, text_modality="image").moe_adaptor.w_gate.shape == (5, 8)
    with pytest.raises(ConfigError, match=r"text modality 'text' .* dataset has \['image', 'kg'\]"):
        small(tiny_data, dims={"kg": 4, "image": 5})


def test_pretrain_objective_by_hand_without_augmentation_noise(tiny_data):
    """Pre-training has no item IDs; L_SI is in-batch CE of cos(s, MoE(x_target)) / tau, same targets excluded."""
    import torch.nn.functional as F

    model = small(tiny_data, "pretrain")
    assert model.item_embedding is None
    model.eval()  # deterministic adaptor and encoder, so the hand computation below sees the same numbers
    inter = batch([[1, 2, 0], [3, 4, 5], [6, 0, 0]], [2, 3, 1], [3, 3, 7])
    parts = model.pretrain_loss(inter, gather_negatives=True, mask_same_target=True)
    seq = F.normalize(model.forward(inter["item_id_list"], inter["item_length"]), dim=-1)
    cand = F.normalize(model.moe_adaptor(model.text_features[inter["item_id"]]), dim=-1)
    logits = seq @ cand.T / 0.07
    logits[0, 1] = logits[1, 0] = float("-inf")  # rows 0 and 1 share target 3
    expected = torch.nn.functional.cross_entropy(logits, torch.arange(3))
    assert parts["si"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert parts["loss"].item() == pytest.approx((parts["si"] + 1e-3 * parts["ss"]).item(), rel=1e-5)


# ---- end to end --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["transductive", "inductive"])
def test_unisrec_learns_the_planted_sequences(tiny_data, in_tmp_cwd, mode):
    results = run_finetune("UniSRec", "tiny", mode, epochs=12, output_dir=in_tmp_cwd / "run",
                           overrides=tiny_overrides(tiny_data, learning_rate=0.01, topk=[10], stopping_step=3))
    assert results["test"]["hit@10"] > 2 * RANDOM_HIT10
    assert results["history"][0]["train_loss"] > results["history"][-1]["train_loss"]
    moe = 8 * (16 + 16 * 16) + 2 * 16 * 8  # text feat1CLS is 16-d; the 8-d image modality is ignored
    encoder = 2 * (4 * 272 + 32 + (16 * 16 + 16) * 2 + 32) + 50 * 16
    assert results["trainable_parameters"] == moe + encoder + 32 + (49 * 16 if mode == "transductive" else 0)
