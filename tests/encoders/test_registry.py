"""The encoder registry lists every encoder and fails with the available names."""

from __future__ import annotations

import pytest

from missrec.encoders import IMAGE_ENCODERS, TEXT_ENCODERS, get_image_encoder, get_text_encoder


def test_tables():
    assert sorted(TEXT_ENCODERS) == ["clip", "minilm"]
    assert sorted(IMAGE_ENCODERS) == ["clip", "efficientnet-lite0"]


def test_unknown_names():
    with pytest.raises(ValueError, match=r"available: \['clip', 'efficientnet-lite0'\]"):
        get_image_encoder("resnet")
    with pytest.raises(ValueError, match="available"):
        get_text_encoder("bert")


def test_clip_needs_a_local_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloaded"):
        get_text_encoder("clip", model_dir=tmp_path)
