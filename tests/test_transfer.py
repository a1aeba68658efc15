"""Transfer: both checkpoint kinds, per-model freezing, exact missing/unexpected reports, fit errors, UniSRec."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from recbole.config import Config
from torch import nn

from missrec.checkpoint import save_checkpoint
from missrec.config import build_config
from missrec.errors import CheckpointError
from missrec.models.missrec import MISSRec
from missrec.models.unisrec import UniSRec
from missrec.runner import run_finetune
from missrec.transfer import DEFAULT_FROZEN, count_trainable, freeze_encoder, load_pretrained, read_pretrained
from tests.conftest import tiny_overrides

SCIENTIFIC_ITEMS = 4386


class FakeDataset:
    def __init__(self, n_items: int, dims: dict[str, int]) -> None:
        g = torch.Generator().manual_seed(0)
        self.modality_features = {m: torch.randn(n_items, d, generator=g) for m, d in dims.items()}
        self.n_items = n_items

    def num(self, field):
        return self.n_items


def build(cls, tiny_data, n_items, dims, **overrides):
    cfg = build_config(cls, "tiny", overrides={"data_path": str(tiny_data), "device": "cpu", **overrides})
    return cls(cfg, FakeDataset(n_items, dims))


def authors_unisrec_state(hidden=300, inner=256, text=768, max_len=50, n_exps=8, n_items=None) -> OrderedDict:
    """The released UniSRec state dict, key by key (RecBole SASRec encoder + moe_adaptor; spec §8)."""
    g = torch.Generator().manual_seed(1)

    def rand(*shape):
        return torch.randn(*shape, generator=g) * 0.02

    state = OrderedDict({"position_embedding.weight": rand(max_len, hidden)})
    for i in range(2):
        p = f"trm_encoder.layer.{i}."
        for name in ("query", "key", "value", "dense"):
            state[p + f"multi_head_attention.{name}.weight"] = rand(hidden, hidden)
            state[p + f"multi_head_attention.{name}.bias"] = rand(hidden)
        shapes = {
            "multi_head_attention.LayerNorm": ((hidden,), (hidden,)),
            "feed_forward.dense_1": ((inner, hidden), (inner,)),
            "feed_forward.dense_2": ((hidden, inner), (hidden,)),
            "feed_forward.LayerNorm": ((hidden,), (hidden,)),
        }
        for name, (weight, bias) in shapes.items():
            state[p + f"{name}.weight"], state[p + f"{name}.bias"] = rand(*weight), rand(*bias)
    state["LayerNorm.weight"], state["LayerNorm.bias"] = 1 + rand(hidden), rand(hidden)
    state["moe_adaptor.w_gate"], state["moe_adaptor.w_noise"] = rand(text, n_exps), rand(text, n_exps)
    for k in range(n_exps):
        state[f"moe_adaptor.experts.{k}.bias"] = rand(text)
        state[f"moe_adaptor.experts.{k}.lin.weight"] = rand(hidden, text)
    if n_items:
        state["item_embedding.weight"] = rand(n_items, hidden)
        state["plm_embedding.weight"] = rand(n_items, text)
    return state


@pytest.fixture(scope="module")
def unisrec_pth(tmp_path_factory):
    cfg = Config.__new__(Config)
    cfg.final_config_dict = {"model": "UniSRec", "dataset": "FHCKM", "hidden_size": 300, "n_heads": 2, "plm_size": 768,
                             "n_exps": 8, "adaptor_layers": [768, 300], "device": torch.device("cuda")}
    state = authors_unisrec_state(n_items=100)
    path = tmp_path_factory.mktemp("pth") / "UniSRec-FHCKM-300.pth"
    torch.save({"config": cfg, "epoch": 299, "state_dict": state, "optimizer": {}}, path)
    return path, state


# ---- reading and freezing ----------------------------------------------------------------------------------------
def test_each_model_freezes_its_own_encoder(tiny_data):
    uni = build(UniSRec, tiny_data, 12, {"text": 6}, hidden_size=8, n_heads=2, inner_size=8)
    frozen = freeze_encoder(uni)
    assert len(frozen) == 1 + 32 and all(n.startswith(("position_embedding.", "trm_encoder.")) for n in frozen)
    assert {n for n, p in uni.named_parameters() if p.requires_grad} == {
        "item_embedding.weight", "LayerNorm.weight", "LayerNorm.bias", "moe_adaptor.w_gate", "moe_adaptor.w_noise",
        *(f"moe_adaptor.experts.{k}.{p}" for k in range(8) for p in ("bias", "lin.weight"))}
    mis = build(MISSRec, tiny_data, 12, {"text": 6}, hidden_size=8, n_heads=2, inner_size=8)
    assert len(freeze_encoder(mis)) == 1 + 34 and not mis.trm_model.decoder.norm.weight.requires_grad

    class Plain(nn.Module):  # declares nothing: the default prefixes
        def __init__(self):
            super().__init__()
            self.trm_encoder, self.head = nn.Linear(2, 2), nn.Linear(2, 2)

    assert freeze_encoder(Plain()) == ["trm_encoder.weight", "trm_encoder.bias"] and "trm_encoder." in DEFAULT_FROZEN


def test_read_pretrained_dispatches_on_the_suffix(tmp_path, unisrec_pth):
    state, meta = read_pretrained(unisrec_pth[0])
    assert meta["model"] == "UniSRec" and list(meta["dropped"]) == ["plm_embedding.weight"]
    assert meta["renamed"] == {} and len(state) == len(unisrec_pth[1]) - 1  # UniSRec names are ours already
    save_checkpoint(tmp_path / "ours", {"w": torch.ones(2)}, {"model": "UniSRec"})
    state, meta = read_pretrained(tmp_path / "ours.safetensors")
    assert torch.equal(state["w"], torch.ones(2)) and meta["model"] == "UniSRec" and "renamed" not in meta


def test_report_lists_missing_and_unexpected_keys_exactly(tiny_data, tmp_path):
    source = build(MISSRec, tiny_data, 12, {"text": 6}, hidden_size=8, n_heads=2, inner_size=8,
                   train_stage="inductive_ft")
    state = source.state_dict()
    del state["LayerNorm.bias"]
    state["moe_adaptor.w_gate"] = torch.zeros(6, 8)
    save_checkpoint(tmp_path / "ckpt", state, {"model": "MISSRec"})
    target = build(MISSRec, tiny_data, 12, {"text": 6}, hidden_size=8, n_heads=2, inner_size=8)
    report = load_pretrained(target, tmp_path / "ckpt", fix_enc=False)
    assert report["missing"] == ["LayerNorm.bias"] and report["unexpected"] == ["moe_adaptor.w_gate"]
    assert report["new_by_design"] == ["interest_embeddings", "interest_lookup", "item_embedding.weight"]
    assert report["frozen"] == [] and report["dropped"] == {}
    assert torch.equal(target.LayerNorm.weight, source.LayerNorm.weight)


def test_a_modality_the_checkpoint_never_saw_gets_a_new_adaptor_by_design(tiny_data, tmp_path):
    source = build(MISSRec, tiny_data, 12, {"text": 6, "kg": 4}, hidden_size=8, n_heads=2, inner_size=8,
                   train_stage="inductive_ft")
    save_checkpoint(tmp_path / "ckpt", source.state_dict(), {"model": "MISSRec"})
    target = build(MISSRec, tiny_data, 12, {"text": 6, "kg": 4, "cast": 5}, hidden_size=8, n_heads=2, inner_size=8,
                   train_stage="inductive_ft")
    report = load_pretrained(target, tmp_path / "ckpt")
    assert report["missing"] == []
    assert {"adaptors.cast.weight", "adaptors.cast.bias"} <= set(report["new_by_design"])
    assert torch.equal(target.adaptors["kg"].weight, source.adaptors["kg"].weight)
    assert target.adaptors["cast"].weight.requires_grad  # trained from scratch downstream
    state = source.state_dict()
    del state["adaptors.kg.bias"]  # a modality the checkpoint HAS, but incompletely: still reported missing
    save_checkpoint(tmp_path / "partial", state, {"model": "MISSRec"})
    report = load_pretrained(build(MISSRec, tiny_data, 12, {"text": 6, "kg": 4}, hidden_size=8, n_heads=2,
                                   inner_size=8, train_stage="inductive_ft"), tmp_path / "partial")
    assert report["missing"] == ["adaptors.kg.bias"]


def test_a_checkpoint_of_another_model_is_refused(tiny_data, unisrec_pth):
    model = build(MISSRec, tiny_data, 12, {"text": 768}, hidden_size=300)
    refusal = (r"holds a UniSRec checkpoint, which cannot initialise MISSRec: it lacks 34 of the 35 encoder tensors "
               r"a transfer loads and freezes \(trm_model\.encoder\.layers\.0\..*Fix: fine-tune it with --model UniSRec")
    with pytest.raises(CheckpointError, match=refusal):
        load_pretrained(model, unisrec_pth[0])


@pytest.mark.parametrize("card", [None, {"model": "MISSRec"}])
def test_the_tensors_decide_not_the_card(tiny_data, tmp_path, card):
    """UniSRec tensors under no card, or under a card claiming MISSRec: refused (3 tensors would load and a
    random transformer would be frozen); MISSRec tensors under a card claiming UniSRec: loaded."""
    uni = build(UniSRec, tiny_data, 12, {"text": 6}, hidden_size=8, n_heads=2, inner_size=8)
    save_checkpoint(tmp_path / "uni", uni.state_dict(), card or {})
    if card is None:
        (tmp_path / "uni.json").unlink()
    target = build(MISSRec, tiny_data, 12, {"text": 6}, hidden_size=8, n_heads=2, inner_size=8)
    with pytest.raises(CheckpointError, match=r"holds a UniSRec checkpoint.*lacks 34 of the 35 encoder tensors"):
        load_pretrained(target, tmp_path / "uni")
    assert all(p.requires_grad for p in target.parameters())  # nothing frozen by the refused transfer
    source = build(MISSRec, tiny_data, 12, {"text": 6}, hidden_size=8, n_heads=2, inner_size=8)
    save_checkpoint(tmp_path / "mis", source.state_dict(), {"model": "UniSRec"})
    report = load_pretrained(target, tmp_path / "mis")
    assert report["missing"] == [] and len(report["frozen"]) == 35
    assert torch.equal(target.trm_model.encoder.layers[0].linear1.weight, source.trm_model.encoder.layers[0].linear1.weight)


def test_card_digest_and_weight_values_are_checked(tiny_data, tmp_path):
    model = build(MISSRec, tiny_data, 12, {"text": 6}, hidden_size=8, n_heads=2, inner_size=8)
    state = model.state_dict()
    save_checkpoint(tmp_path / "ok", state, {"model": "MISSRec"})
    assert len(read_pretrained(tmp_path / "ok")[0]) == len(state)  # the card's own sha256 matches
    (tmp_path / "ok.md").write_text(f"| sha256 (safetensors) | `{'ab' * 32}` |\n")
    with pytest.raises(CheckpointError, match=r"ok\.safetensors: expected sha256 abababab.*recorded in ok\.md"):
        read_pretrained(tmp_path / "ok")
    (tmp_path / "ok.json").write_text("{broken")
    with pytest.raises(CheckpointError, match=r"ok\.json: expected a JSON model card, found invalid JSON"):
        read_pretrained(tmp_path / "ok")
    state["LayerNorm.weight"][0] = 3e38
    save_checkpoint(tmp_path / "big", state, {})
    with pytest.raises(CheckpointError, match=r"expected weights of magnitude <= 1e\+06, found 3e\+38 .* LayerNorm\.weight"):
        read_pretrained(tmp_path / "big")


# ---- the authors' UniSRec checkpoint at the spec's sizes (§8.4) -------------------------------------------------
@pytest.mark.parametrize("stage,new,ids", [
    ("inductive_ft", [], 0),
    ("transductive_ft", ["item_embedding.weight"], SCIENTIFIC_ITEMS * 300),
])  # fmt: skip
def test_authors_unisrec_checkpoint_into_unisrec(tiny_data, unisrec_pth, stage, new, ids):
    path, original = unisrec_pth
    model = build(UniSRec, tiny_data, SCIENTIFIC_ITEMS, {"text": 768, "image": 512}, train_stage=stage)
    report = load_pretrained(model, path, fix_enc=True)
    assert report["missing"] == [] and report["unexpected"] == [] and report["new_by_design"] == new
    assert list(report["dropped"]) == ["plm_embedding.weight"] and len(report["loaded"]) == len(original) - 2
    assert count_trainable(model) == 8 * (768 + 768 * 300) + 2 * 768 * 8 + 600 + ids  # MoE + LN (+ E)
    assert torch.equal(model.moe_adaptor.experts[5].lin.weight, original["moe_adaptor.experts.5.lin.weight"])
    ffn = model.trm_encoder.layer[1].feed_forward
    assert torch.equal(ffn.dense_2.bias, original["trm_encoder.layer.1.feed_forward.dense_2.bias"])
    assert report["meta"]["epoch"] == 299 and report["meta"]["config"]["plm_size"] == 768


def test_unisrec_checkpoint_into_a_small_model_names_the_settings(tiny_data, unisrec_pth):
    model = build(UniSRec, tiny_data, 20, {"text": 384}, hidden_size=64, inner_size=128, MAX_ITEM_LIST_LENGTH=20)
    hint = (r"Fix: set hidden_size=300 MAX_ITEM_LIST_LENGTH=50 inner_size=256 n_heads=2 "
            r"and use 768-d features for text \(the sizes the checkpoint was trained with\)")
    with pytest.raises(CheckpointError, match=hint):
        load_pretrained(model, unisrec_pth[0])


def test_unisrec_transfer_through_the_runner(tiny_data, in_tmp_cwd):
    first = run_finetune("UniSRec", "tiny", "inductive", epochs=1, output_dir=in_tmp_cwd / "src",
                         overrides=tiny_overrides(tiny_data))
    second = run_finetune("UniSRec", "tiny", "transductive", pretrained=first["checkpoint"], epochs=1,
                          output_dir=in_tmp_cwd / "dst", overrides=tiny_overrides(tiny_data))
    transfer = second["transfer"]
    assert transfer["missing"] == [] and transfer["unexpected"] == []
    assert transfer["new_by_design"] == ["item_embedding.weight"]
    frozen = transfer["frozen"]
    assert len(frozen) == 1 + 32 and all(k.startswith(("position_embedding.", "trm_encoder.")) for k in frozen)
    # MoE over the 16-d text (8 * (16 + 16*16) + 2 * 16*8) + input LN 2*16 + ID table 49*16
    assert second["trainable_parameters"] == 2432 + 32 + 49 * 16
