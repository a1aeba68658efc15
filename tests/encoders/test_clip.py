"""CLIP text and image encoders, on a tiny randomly initialised CLIPModel saved to a temp folder.

The real ViT-B/32 weights cannot be fetched here; the code path (local folder, tokenizer, image processor,
projected features) is the same.
"""

from __future__ import annotations

import numpy as np
import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")
Image = pytest.importorskip("PIL.Image")

from missrec.encoders import get_image_encoder, get_text_encoder  # noqa: E402

PROJECTION = 8
IMAGE_SIZE = 32


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    """A saved CLIP folder: config + weights + tokenizer (printable-ASCII BPE vocab) + image processor."""
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    try:
        from transformers import CLIPImageProcessorPil as Processor
    except ImportError:
        from transformers import CLIPImageProcessor as Processor

    chars = [chr(c) for c in range(33, 127)]
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    bos, eos = len(vocab), len(vocab) + 1
    vocab.update({"<|startoftext|>": bos, "<|endoftext|>": eos})
    path = tmp_path_factory.mktemp("tiny-clip")
    CLIPTokenizer(vocab=vocab, merges=[]).save_pretrained(path)
    text = dict(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                num_attention_heads=2, max_position_embeddings=77, bos_token_id=bos, eos_token_id=eos,
                pad_token_id=eos)
    vision = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                  image_size=IMAGE_SIZE, patch_size=8)
    torch.manual_seed(0)
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=PROJECTION)).save_pretrained(path)
    processor = Processor(size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    processor.save_pretrained(path)
    return path


def test_clip_text_features(clip_dir):
    encoder = get_text_encoder("clip", model_dir=clip_dir, device="cpu")
    texts = ["Red & Blue Paint Set. Arts Paint. Acme.", "Brush.", "word " * 200]
    out = encoder.encode(texts, batch_size=2, show_progress=False)
    assert (out.shape, out.dtype, encoder.dim) == ((3, PROJECTION), np.float32, PROJECTION)
    assert encoder.max_length == 77  # the 200-word text is truncated to CLIP's context
    with torch.no_grad():
        batch = encoder.tokenizer(texts[1:2], return_tensors="pt")
        direct = encoder.model.get_text_features(**batch)
    direct = direct if hasattr(direct, "shape") else direct.pooler_output
    np.testing.assert_allclose(out[1], direct[0].numpy(), rtol=1e-4, atol=1e-5)  # padding does not change it
    normed = get_text_encoder("clip", model_dir=clip_dir, device="cpu", normalize=True)
    np.testing.assert_allclose(np.linalg.norm(normed.encode(texts, show_progress=False), axis=1), 1.0, atol=1e-5)


def test_clip_image_features(clip_dir, tmp_path):
    encoder = get_image_encoder("clip", model_dir=clip_dir, device="cpu")
    red = Image.new("RGB", (48, 40), (200, 10, 10))
    path = tmp_path / "g.png"
    Image.new("RGB", (20, 60), (10, 200, 10)).save(path)
    out = encoder.encode([red, None, path, b"junk"], batch_size=3, show_progress=False)
    assert (out.shape, out.dtype, encoder.dim) == ((4, PROJECTION), np.float32, PROJECTION)
    assert not out[1].any() and not out[3].any() and out[0].any() and out[2].any()
    pixels = encoder.preprocess(red)
    assert pixels.shape == (3, IMAGE_SIZE, IMAGE_SIZE)
    mean, std = 0.48145466, 0.26862954  # OpenAI CLIP red-channel statistics
    np.testing.assert_allclose(pixels[0, 5, 5], (200 / 255 - mean) / std, atol=1e-3)
    with torch.no_grad():
        direct = encoder.model.get_image_features(pixel_values=torch.from_numpy(pixels[None]))
    direct = direct if hasattr(direct, "shape") else direct.pooler_output
    np.testing.assert_allclose(out[0], direct[0].numpy(), rtol=1e-4, atol=1e-5)


def test_clip_without_preprocessor_config_uses_openai_defaults(clip_dir, tmp_path):
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(clip_dir, bare)
    (bare / "preprocessor_config.json").unlink()
    encoder = get_image_encoder("clip", model_dir=bare, device="cpu")
    assert encoder.preprocess(Image.new("RGB", (50, 70))).shape == (3, IMAGE_SIZE, IMAGE_SIZE)


def test_text_and_image_encoders_share_the_weights(clip_dir):
    text = get_text_encoder("clip", model_dir=clip_dir, device="cpu")
    image = get_image_encoder("clip", model_dir=clip_dir, device="cpu")
    assert text.model is image.model
