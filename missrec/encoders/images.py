"""Image helpers shared by the image encoders and the Amazon image step: find, decode, resize, normalise.

Product images come as JPEG/PNG/WebP of any size, some with transparency. Anything that cannot be decoded is
``None``, which the encoders turn into an all-zero feature row (spec missrec.md §4.1).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from missrec.encoders.base import missing_extra

# looked for in this order when finding ``<item id>.<ext>`` in an image folder
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp")
# file extension to save a downloaded image under, by the format PIL detects
FORMAT_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp"}


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError as e:
        raise missing_extra("pillow", "images") from e
    return Image


def torch_device(device: str | None = None) -> str:
    """``device`` if given, else ``"cuda"`` when a GPU is visible, else ``"cpu"``."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def find_image(folder: str | Path, item_id: str) -> Path | None:
    """``<folder>/<item_id>.<ext>`` for the first extension of :data:`IMAGE_EXTENSIONS` that exists, else None."""
    for ext in IMAGE_EXTENSIONS:
        path = Path(folder) / f"{item_id}{ext}"
        if path.is_file():
            return path
    return None


def load_rgb(source: Any) -> Any:
    """Decode a path, bytes or PIL image into an RGB PIL image; None if it cannot be decoded.

    Transparent pixels are composited on white: Amazon product images are shot on white, and a plain RGB
    conversion would turn a transparent background black.
    """
    if source is None:
        return None
    Image = _pil()
    try:
        if isinstance(source, Image.Image):
            image = source
        else:
            image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        image.load()
        if image.mode in ("RGBA", "LA", "P", "PA") and (image.mode != "P" or "transparency" in image.info):
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, rgba)
        return image.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def image_format(data: bytes) -> str | None:
    """PIL format name (``"JPEG"``, ``"PNG"`` ...) if ``data`` decodes as a whole image, else None."""
    Image = _pil()
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return image.format
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def load_images(sources: Sequence[Any], workers: int = 4) -> list[Any]:
    """:func:`load_rgb` over ``sources`` (paths, bytes, images or None) with a thread pool; order kept."""
    if workers <= 1 or len(sources) <= 1:
        return [load_rgb(s) for s in sources]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(load_rgb, sources))


def resize_center_crop(image: Any, size: int, resample: str = "bicubic") -> Any:
    """Resize so the shorter side is ``size`` (aspect kept), then crop the central ``size x size`` square."""
    Image = _pil()
    width, height = image.size
    scale = size / min(width, height)
    new = (max(size, round(width * scale)), max(size, round(height * scale)))
    image = image.resize(new, getattr(Image.Resampling, resample.upper()))
    left, top = (new[0] - size) // 2, (new[1] - size) // 2
    return image.crop((left, top, left + size, top + size))


def to_chw_array(image: Any, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """RGB PIL image -> float32 ``[3, H, W]``, scaled to [0, 1] then normalised per channel."""
    pixels = np.asarray(image, dtype=np.float32) / 255.0  # [H, W, 3]
    pixels = (pixels - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def encode_image_batches(
    images: Sequence[Any],
    preprocess: Any,
    embed: Any,
    dim: int,
    batch_size: int = 64,
    show_progress: bool = True,
    desc: str = "images",
) -> np.ndarray:
    """Run an image model over ``images`` in batches; an undecodable or ``None`` entry gives an all-zero row.

    Args:
        images: paths, bytes, PIL images or None; decoded one batch at a time to bound memory.
        preprocess: RGB PIL image -> float32 ``[3, H, W]``.
        embed: float32 ``[B, 3, H, W]`` -> float32 ``[B, dim]``.
        dim: feature dimension.

    Returns:
        float32 ``[len(images), dim]``.
    """
    from tqdm import tqdm

    out = np.zeros((len(images), dim), dtype=np.float32)
    for start in tqdm(range(0, len(images), batch_size), desc=desc, unit=" batch", disable=not show_progress):
        batch = [load_rgb(x) for x in images[start : start + batch_size]]
        rows = [j for j, image in enumerate(batch) if image is not None]
        if rows:
            pixels = np.stack([preprocess(batch[j]) for j in rows])
            out[start + np.asarray(rows)] = np.asarray(embed(pixels), dtype=np.float32).reshape(len(rows), dim)
    return out
