"""Optional faiss index over item vectors: exact inner product (``flat``) or approximate (``ivf``, ``hnsw``).

The index returns candidates by inner product with the head's item vectors; the recommender re-ranks them with the
model's exact score (:func:`missrec.recommend.topk.rerank`), so scores are always the model's. faiss is optional
(``pip install -e '.[cpu]'``); without it only exact chunked scoring is available.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from missrec.errors import ConfigError

INDEX_KINDS = ("flat", "ivf", "hnsw")


def require_faiss() -> Any:
    """The faiss module, or one error saying how to install it."""
    try:
        import faiss
    except ImportError as e:
        raise ConfigError("index: faiss is not installed. Fix: pip install -e '.[cpu]' (or '.[gpu]'), or use exact scoring (no --index)") from e
    return faiss


class AnnIndex:
    """A faiss inner-product index over item vectors ``[N, D]`` whose row ``r`` is item ``first_item + r``.

    Args:
        vectors: float32 ``[N, D]`` item vectors (from ``first_item`` on).
        kind: ``flat`` (exact IndexFlatIP), ``ivf`` (IndexIVFFlat, ``nlist`` lists, ``nprobe`` probed) or ``hnsw``
            (IndexHNSWFlat, ``hnsw_m`` links, ``ef_construction`` / ``ef_search``).
        first_item: internal id of row 0 (1 when the model has a PAD item).
        nlist: IVF lists (default ``4 * sqrt(N)``, at most N / 39 so that training has 39 points per list).
        nprobe: IVF lists searched per query.
        hnsw_m, ef_construction, ef_search: HNSW graph degree and beam widths.
        train_size: IVF training sample (default all points up to 256 per list).
        seed: seed of the IVF training sample and k-means.
    """

    def __init__(
        self,
        vectors: np.ndarray,
        kind: str = "flat",
        first_item: int = 0,
        nlist: int | None = None,
        nprobe: int = 16,
        hnsw_m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 64,
        train_size: int | None = None,
        seed: int = 0,
    ) -> None:
        faiss = require_faiss()
        if kind not in INDEX_KINDS:
            raise ConfigError(f"index: unknown kind {kind!r}. Fix: one of {list(INDEX_KINDS)}")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, d = vectors.shape
        self.kind, self.first_item, self.dim = kind, first_item, d
        self.params: dict[str, Any] = {}
        if kind == "flat":
            self.index = faiss.IndexFlatIP(d)
        elif kind == "hnsw":
            self.index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            self.index.hnsw.efConstruction = ef_construction
            self.index.hnsw.efSearch = ef_search
            self.params = {"M": hnsw_m, "efConstruction": ef_construction, "efSearch": ef_search}
        else:
            nlist = nlist or max(1, min(int(4 * math.sqrt(n)), n // 39))
            quantizer = faiss.IndexFlatIP(d)
            self.index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
            self.index.cp.seed = seed
            size = min(n, train_size or 256 * nlist)
            sample = vectors if size == n else vectors[np.random.default_rng(seed).choice(n, size, replace=False)]
            self.index.train(sample)
            self.index.nprobe = min(nprobe, nlist)
            self.quantizer = quantizer  # the IVF index does not own it
            self.params = {"nlist": nlist, "nprobe": self.index.nprobe}
        self.index.add(vectors)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        """Append items (the next internal ids) to the index."""
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def search(self, queries: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(inner products [B, n], internal item ids [B, n])`` of the best ``n`` items per query, best first
        (``-inf`` / ``-1`` where the index has fewer)."""
        scores, rows = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), min(n, self.ntotal))
        return np.where(rows >= 0, scores, -np.inf), np.where(rows >= 0, rows + self.first_item, -1)

    def memory_bytes(self) -> int:
        """Size of the serialised index (vectors, lists, graph)."""
        faiss = require_faiss()
        return int(faiss.serialize_index(self.index).nbytes)
