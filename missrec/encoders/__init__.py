"""Item feature encoders behind one interface (optional extras; the base install does not need them).

``get_text_encoder(name)`` / ``get_image_encoder(name)`` return an object with ``name``, ``dim`` and
``encode(items, batch_size, show_progress) -> float32 [n, dim]``. Encoders load weights from local files only.
"""

from __future__ import annotations

import importlib
from typing import Any

from missrec.encoders.base import ImageEncoder, TextEncoder

# name -> "module:Class"; modules are imported lazily so missing extras only fail when used
TEXT_ENCODERS: dict[str, str] = {
    "minilm": "missrec.encoders.minilm:MiniLMTextEncoder",
    "clip": "missrec.encoders.clip:CLIPTextEncoder",
}
IMAGE_ENCODERS: dict[str, str] = {
    "clip": "missrec.encoders.clip:CLIPImageEncoder",
    "efficientnet-lite0": "missrec.encoders.efficientnet:EfficientNetLite0ImageEncoder",
}


def _load(table: dict[str, str], kind: str, name: str, **kwargs: Any) -> Any:
    if name not in table:
        raise ValueError(f"unknown {kind} encoder '{name}'; available: {sorted(table)}")
    module, cls = table[name].split(":")
    return getattr(importlib.import_module(module), cls)(**kwargs)


def get_text_encoder(name: str = "minilm", **kwargs: Any) -> TextEncoder:
    """Instantiate a text encoder by name (``minilm`` ...)."""
    return _load(TEXT_ENCODERS, "text", name, **kwargs)


def get_image_encoder(name: str, **kwargs: Any) -> ImageEncoder:
    """Instantiate an image encoder by name."""
    return _load(IMAGE_ENCODERS, "image", name, **kwargs)


__all__ = ["TEXT_ENCODERS", "IMAGE_ENCODERS", "TextEncoder", "ImageEncoder", "get_text_encoder", "get_image_encoder"]
