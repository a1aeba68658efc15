"""The encoder interface every text/image feature extractor implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np


class TextEncoder(Protocol):
    """Encodes item texts into fixed-size vectors."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = True) -> np.ndarray:
        """Return float32 ``[len(texts), dim]``."""
        ...


class ImageEncoder(Protocol):
    """Encodes item images into fixed-size vectors; ``None`` entries (no usable image) give all-zero rows."""

    name: str
    dim: int

    def encode(self, images: Sequence[Any], batch_size: int = 64, show_progress: bool = True) -> np.ndarray:
        """Return float32 ``[len(images), dim]``."""
        ...


def missing_extra(package: str, extra: str) -> ImportError:
    """The error raised when an optional encoder dependency is absent."""
    return ImportError(f"{package} is not installed. Fix: pip install -e '.[{extra}]'")
