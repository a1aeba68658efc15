"""Image helpers: finding files, decoding (alpha on white, corrupt -> None), resize/crop, normalisation, batching."""

from __future__ import annotations

import io

import numpy as np
import pytest

from missrec.encoders.images import (
    encode_image_batches,
    find_image,
    image_format,
    load_rgb,
    resize_center_crop,
    to_chw_array,
    torch_device,
)

Image = pytest.importorskip("PIL.Image")


def _bytes(image, fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def test_find_image_prefers_jpg(tmp_path):
    (tmp_path / "A.png").write_bytes(b"x")
    assert find_image(tmp_path, "A") == tmp_path / "A.png"
    (tmp_path / "A.jpg").write_bytes(b"x")
    assert find_image(tmp_path, "A") == tmp_path / "A.jpg"
    assert find_image(tmp_path, "B") is None


def test_load_rgb(tmp_path):
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert load_rgb(_bytes(rgba)).getpixel((0, 0)) == (255, 255, 255)  # transparent -> white
    half = Image.new("LA", (2, 2), (0, 255))
    assert load_rgb(half).getpixel((0, 0)) == (0, 0, 0)
    path = tmp_path / "c.png"
    path.write_bytes(_bytes(Image.new("L", (3, 3), 128)))
    assert load_rgb(path).mode == "RGB" and load_rgb(path).getpixel((1, 1)) == (128, 128, 128)
    assert load_rgb(b"not an image") is None and load_rgb(None) is None
    assert load_rgb(tmp_path / "missing.png") is None
    truncated = _bytes(Image.new("RGB", (64, 64), (1, 2, 3)), "JPEG")[:100]
    assert load_rgb(truncated) is None and image_format(truncated) is None
    assert image_format(_bytes(Image.new("RGB", (2, 2)), "JPEG")) == "JPEG"


def test_resize_center_crop_and_normalise():
    image = Image.new("RGB", (300, 100), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 100, 100))  # left third white: cropped away
    out = resize_center_crop(image, 50)
    assert out.size == (50, 50)
    assert out.getpixel((25, 25)) == (0, 0, 0)
    array = to_chw_array(Image.new("RGB", (2, 3), (255, 0, 128)), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    assert array.shape == (3, 3, 2) and array.dtype == np.float32
    np.testing.assert_allclose(array[:, 0, 0], [1.0, -1.0, 128 / 255 * 2 - 1], atol=1e-6)


def test_encode_image_batches_zero_rows():
    calls = []

    def embed(pixels):
        calls.append(pixels.shape[0])
        return pixels.mean(axis=(2, 3))  # [B, 3]

    images = [Image.new("RGB", (4, 4), (255, 0, 0)), None, b"junk", Image.new("RGB", (4, 4), (0, 255, 0))]
    out = encode_image_batches(images, lambda im: to_chw_array(im, (0, 0, 0), (1, 1, 1)), embed, 3,
                               batch_size=2, show_progress=False)
    np.testing.assert_allclose(out, [[1, 0, 0], [0, 0, 0], [0, 0, 0], [0, 1, 0]])
    assert calls == [1, 1]


def test_torch_device():
    assert torch_device("cpu") == "cpu"
    assert torch_device(None) in ("cpu", "cuda")
