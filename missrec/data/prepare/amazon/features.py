"""Encode a benchmark folder's item texts and images into MISSRec feature files (spec missrec.md §4.1).

``<ds>.feat1CLS`` (text), ``<ds>.feat2CLS`` (text with words dropped, UniSRec's pre-training augmentation) and
``<ds>.feat3CLS`` (image) are raw float32 ``[n_items, d]``, row i = item i of ``.item2index``. An item without a
decodable image gets an all-zero row. ``<ds>.features.json`` records, per file, the encoder, the dimension and the
items with zero rows; the manifest is refreshed after each file.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from missrec.data.features import write_feature_file
from missrec.data.prepare.amazon.folder import BenchmarkFolder
from missrec.data.prepare.amazon.staging import ensure_writable, refresh_manifest
from missrec.encoders.base import ImageEncoder, TextEncoder
from missrec.encoders.images import find_image, load_images

TEXT_SUFFIX = "feat1CLS"
WORD_DROP_SUFFIX = "feat2CLS"
IMAGE_SUFFIX = "feat3CLS"


def word_drop(texts: Sequence[str], ratio: float, seed: int) -> list[str]:
    """UniSRec's word-drop augmentation: each space-separated word is kept with probability ``1 - ratio``."""
    rng = random.Random(seed)
    return [" ".join(w for w in text.split(" ") if rng.random() > ratio) for text in texts]


def encode_texts(
    folder: str | Path,
    encoder: TextEncoder,
    suffix: str = TEXT_SUFFIX,
    batch_size: int = 64,
    drop_ratio: float = 0.0,
    seed: int = 2020,
    show_progress: bool = True,
) -> np.ndarray:
    """Encode ``<ds>.text`` into ``<ds>.<suffix>``; with ``drop_ratio > 0`` the texts are word-dropped first.

    Returns:
        The features written, float32 ``[n_items, encoder.dim]``.
    """
    bench = BenchmarkFolder(folder)
    ensure_writable(bench.path)  # before the encoder runs
    item_ids = bench.item_ids()
    texts = bench.texts(item_ids)
    if drop_ratio > 0:
        texts = word_drop(texts, drop_ratio, seed)
    features = np.asarray(encoder.encode(texts, batch_size=batch_size, show_progress=show_progress), np.float32)
    info: dict[str, Any] = {"modality": "text", "encoder": encoder.name}
    if drop_ratio > 0:
        info.update(word_drop=drop_ratio, seed=seed)
    _save(bench, suffix, features, len(item_ids), info, zero_items=[])
    return features


def encode_images(
    folder: str | Path,
    encoder: ImageEncoder,
    image_dir: str | Path,
    suffix: str = IMAGE_SUFFIX,
    batch_size: int = 64,
    chunk: int = 1024,
    workers: int = 4,
    show_progress: bool = True,
) -> tuple[np.ndarray, list[str]]:
    """Encode ``<image_dir>/<asin>.<ext>`` of every item into ``<ds>.<suffix>``.

    Images are decoded ``chunk`` at a time (``workers`` threads) so memory stays bounded on 100k-item domains.

    Returns:
        The features written (float32 ``[n_items, encoder.dim]``) and the items without a usable image (zero rows).
    """
    bench = BenchmarkFolder(folder)
    ensure_writable(bench.path)  # before the encoder runs
    item_ids = bench.item_ids()
    image_dir = Path(image_dir)
    features = np.zeros((len(item_ids), encoder.dim), dtype=np.float32)
    unusable: list[str] = []
    bar = tqdm(total=len(item_ids), desc=f"{encoder.name} images", unit=" img", disable=not show_progress)
    for start in range(0, len(item_ids), chunk):
        ids = item_ids[start : start + chunk]
        images = load_images([find_image(image_dir, asin) for asin in ids], workers=workers)
        unusable += [asin for asin, image in zip(ids, images, strict=True) if image is None]
        block = encoder.encode(images, batch_size=batch_size, show_progress=False)
        features[start : start + len(ids)] = block
        bar.update(len(ids))
    bar.close()
    _save(bench, suffix, features, len(item_ids), {"modality": "image", "encoder": encoder.name}, unusable)
    return features, unusable


def _save(
    bench: BenchmarkFolder, suffix: str, features: np.ndarray, n_items: int, info: dict[str, Any],
    zero_items: list[str],
) -> None:
    if features.shape[0] != n_items:
        raise ValueError(f"encoder returned {features.shape[0]} rows for {n_items} items")
    write_feature_file(bench.file(suffix), features)
    bench.record_features(suffix, {**info, "dim": int(features.shape[1]), "rows": n_items,
                                   "zero_rows": len(zero_items), "zero_row_items": zero_items})
    refresh_manifest(bench.path)
