"""Value checks on numbers before they are computed with: finite, and of a magnitude float32 arithmetic survives.

faiss aborts the whole process (a C++ ``FaissException``, exit status 134) when a point's squared norm overflows
float32, which finite values from about 1e19 do; so do the adaptors' matrix products one step earlier. Features and
pre-trained weights are checked when they are read (:func:`check_magnitude`, bound :data:`MAX_ABS_VALUE`), the
points of a k-means run right before it (:func:`check_kmeans_points`).
"""

from __future__ import annotations

import numpy as np
import torch

from missrec.errors import MissrecError

# Real features (CLIP, BERT/MiniLM, knowledge-graph embeddings) and trained weights stay far below this; float32
# keeps 7 significant digits, and squared distances between such values stay finite.
MAX_ABS_VALUE = 1e6
FLOAT32_MAX = float(np.finfo(np.float32).max)


def magnitude_problem(values: np.ndarray | torch.Tensor, limit: float = MAX_ABS_VALUE) -> str | None:
    """``None`` when every value is finite and ``|x| <= limit``; else what was found, e.g. ``NaN/inf in 2 rows``.

    Rows are counted along the first axis (items for a feature table).
    """
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    if array.size == 0 or not np.issubdtype(array.dtype, np.floating):
        return None
    rows = array.reshape(array.shape[0], -1) if array.ndim > 1 else array.reshape(-1, 1)
    finite = np.isfinite(rows)
    if not finite.all():
        bad = np.flatnonzero(~finite.all(axis=1))
        return f"NaN/inf in {bad.size} rows (first: {bad[:5].tolist()})"
    peak = np.abs(rows).max(axis=1)
    over = np.flatnonzero(peak > limit)
    if over.size:
        return f"{float(peak.max()):.3g} in {over.size} rows (first: {over[:5].tolist()})"
    return None


def check_kmeans_points(points: torch.Tensor, what: str = "interest discovery points") -> None:
    """Raise a one-line :class:`MissrecError` unless k-means can run on ``points`` ``[N, D]``.

    faiss (and the torch path) compute ``||x||^2 + ||c||^2 - 2 x.c`` in float32: the squared norms must stay
    finite with room for the sum. Call it right before clustering; it costs one pass over the points.
    """
    if points.numel() == 0:
        return
    norms = points.detach().double().pow(2).sum(dim=1)  # [N], float64: no overflow while checking
    worst = float(norms.max()) if torch.isfinite(norms).all() else float("inf")
    if worst > FLOAT32_MAX / 4:
        raise MissrecError(
            f"{what}: expected squared norms below {FLOAT32_MAX / 4:.3g} (float32 k-means overflows above), found "
            f"{worst:.3g}. Fix: normalise the modality features, or check the pre-trained weights for extreme values"
        )
