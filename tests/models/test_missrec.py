"""MISSRec: parameter counts from the paper's logs, scoring by hand, gradients, interests."""

import math

import pytest
import torch
import torch.nn.functional as F

from missrec.config import build_config
from missrec.models.missrec import MISSRec
from missrec.transfer import count_trainable, freeze_encoder


class FakeDataset:
    """Just what RecBole's SequentialRecommender reads, plus modality features."""

    def __init__(self, n_items, dims):
        g = torch.Generator().manual_seed(0)
        self.modality_features = {m: torch.randn(n_items, d, generator=g) for m, d in dims.items()}
        self.modality_features = {m: f.index_fill(0, torch.tensor([0]), 0.0) for m, f in self.modality_features.items()}
        self.n_items = n_items

    def num(self, field):
        return self.n_items


def model_for(tiny_data, n_items=20, dims=None, **overrides):
    cfg = build_config(MISSRec, "tiny", overrides={"data_path": str(tiny_data), "device": "cpu", **overrides})
    return MISSRec(cfg, FakeDataset(n_items, dims or {"text": 512, "image": 512}))


@pytest.mark.parametrize("stage,expected", [("inductive_ft", 1_719_513), ("transductive_ft", 1_719_513 + 4386 * 300)])
def test_trainable_parameters_match_the_original_logs(tiny_data, stage, expected):
    """Spec §2.3: hidden 300, two 512-d modalities; Scientific has 4386 items incl. PAD."""
    model = model_for(tiny_data, n_items=4386, train_stage=stage)
    assert count_trainable(model) == expected
    freeze_encoder(model)
    assert count_trainable(model) == expected - 1_719_513 + 308_401


def test_adaptors_keep_torch_default_init_and_fusion_starts_at_zero(tiny_data):
    model = model_for(tiny_data)
    bound = 1 / math.sqrt(512)  # kaiming-uniform(a=sqrt 5) bound of nn.Linear
    for adaptor in model.adaptors.values():
        assert adaptor.weight.abs().max() <= bound and adaptor.weight.std() > 0.5 * bound / math.sqrt(3)
        assert adaptor.bias.abs().max() > 0  # default init, not zeroed
    assert model.fusion.fusion_factor.item() == 0.0
    assert model.trm_model.encoder.layers[0].linear1.weight.std().item() == pytest.approx(0.02, rel=0.1)


def test_scores_by_hand_transductive(tiny_data):
    model = model_for(tiny_data, n_items=6, dims={"text": 4, "image": 3}, hidden_size=8, n_heads=2, train_stage="transductive_ft")
    with torch.no_grad():
        model.fusion.fusion_factor.fill_(1.5)
    seq = F.normalize(torch.randn(2, 8), dim=-1)
    modal = model.modal_item_embeddings()
    logits = model.score_items(seq, modal)
    for b in range(2):
        for j in range(6):
            c = [F.cosine_similarity(seq[b], modal[m, j], dim=0) for m in range(2)]
            w = torch.softmax(1.5 * torch.stack(c), 0)
            fused = (w * torch.stack(c)).sum()
            e = model.item_embedding.weight[j]
            id_cos = 0.0 if j == 0 else F.cosine_similarity(seq[b], e, dim=0)
            assert logits[b, j].item() == pytest.approx(((id_cos + 2 * fused) / 3 / 0.07).item(), abs=1e-4)


def test_inductive_scores_have_no_id_term(tiny_data):
    model = model_for(tiny_data, n_items=5, dims={"text": 4}, hidden_size=8, n_heads=2, train_stage="inductive_ft")
    assert model.item_embedding is None
    seq = F.normalize(torch.randn(1, 8), dim=-1)
    modal = model.modal_item_embeddings()
    expected = seq @ F.normalize(modal[0], dim=-1).T / 0.07
    assert torch.allclose(model.score_items(seq, modal), expected, atol=1e-5)


def batch(item_seq, lengths, targets):
    from recbole.data.interaction import Interaction

    return Interaction({"item_id_list": item_seq, "item_length": lengths, "item_id": targets})


def test_gradients_reach_adaptors_not_centroids(tiny_data):
    model = model_for(tiny_data, n_items=30, dims={"text": 6, "image": 5}, hidden_size=8, n_heads=2, inner_size=8,
                      train_stage="transductive_ft", kmeans_iters=3)
    model.discover_interests()
    assert not model.interest_embeddings.requires_grad
    item_seq = torch.tensor([[3, 4, 5, 0], [7, 8, 9, 10]])
    ce, interest_reg = model.calculate_loss(batch(item_seq, torch.tensor([3, 4]), torch.tensor([6, 11])))
    (ce + interest_reg).backward()
    for m in ("text", "image"):
        assert model.adaptors[m].weight.grad.abs().sum() > 0
    assert model.fusion.fusion_factor.grad is not None
    assert model.interest_embeddings.grad is None and model.feature_tables["text"].weight.grad is None
    names = {n for n, _ in model.named_parameters()}
    assert not any("interest" in n or "feature_tables" in n for n in names)


def test_pad_is_never_recommended_and_predict_matches_full_sort(tiny_data):
    model = model_for(tiny_data, n_items=12, dims={"text": 4}, hidden_size=8, n_heads=2, inner_size=8, kmeans_iters=2)
    model.eval()
    b = batch(torch.tensor([[1, 2, 3]]), torch.tensor([3]), torch.tensor([4]))
    full = model.full_sort_predict(b)
    assert full.shape == (1, 12)
    assert model.predict(b).item() == pytest.approx(full[0, 4].item())


def test_interest_buffers_follow_k_when_loading(tiny_data):
    a = model_for(tiny_data, n_items=12, dims={"text": 4}, hidden_size=8, n_heads=2, inner_size=8, kmeans_iters=2)
    a.discover_interests()
    b = model_for(tiny_data, n_items=12, dims={"text": 4}, hidden_size=8, n_heads=2, inner_size=8, interest_ratio=0.2)
    b.load_state_dict(a.state_dict())
    assert torch.equal(b.interest_embeddings, a.interest_embeddings)
    assert b.interest_embeddings.shape[0] == 1 + math.ceil(0.5 * 11)
