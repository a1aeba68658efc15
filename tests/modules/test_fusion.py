import math

import pytest
import torch

from missrec.modules.fusion import ModalityFusion


def test_static_is_the_mean():
    scores = torch.tensor([[[0.2, -0.4]], [[0.6, 0.0]]])  # M=2, B=1, N=2
    assert torch.allclose(ModalityFusion("static")(scores), torch.tensor([[0.4, -0.2]]))


def test_dynamic_shared_by_hand():
    fusion = ModalityFusion("dynamic_shared")
    scores = torch.tensor([[[0.5]], [[-0.25]]])
    assert torch.allclose(fusion(scores), scores.mean(0))  # w = 0 -> plain mean
    with torch.no_grad():
        fusion.fusion_factor.fill_(2.0)
    a, b = math.exp(2 * 0.5), math.exp(2 * -0.25)
    expected = (0.5 * a - 0.25 * b) / (a + b)
    assert fusion(scores).item() == pytest.approx(expected, rel=1e-6)


def test_dynamic_instance_uses_each_items_factor():
    fusion = ModalityFusion("dynamic_instance", n_items=3)
    with torch.no_grad():
        fusion.fusion_factor.copy_(torch.tensor([0.0, 1.0, -1.0]))
    scores = torch.tensor([[[1.0, 1.0, 1.0]], [[0.0, 0.0, 0.0]]])
    out = fusion(scores)[0]
    for j, w in enumerate([0.0, 1.0, -1.0]):
        assert out[j].item() == pytest.approx(math.exp(w) / (math.exp(w) + 1.0), rel=1e-6)
    assert fusion(scores[:, :, :2], item_index=torch.tensor([2, 1]))[0, 0].item() == pytest.approx(out[2].item())


def test_unknown_mode():
    with pytest.raises(ValueError, match="unknown item_mm_fusion"):
        ModalityFusion("stack")
