"""Recommendations out of a trained model: :class:`Recommender` (API), ``recommend.py`` (CLI).

* :mod:`.recommender`: the API (by history, by user, streaming, new items, explanations, optional ANN index);
* :mod:`.loading`: run folder / checkpoint -> model, catalogue and users, with the data-fingerprint check;
* :mod:`.heads`: per-model query encoding and item scoring; :mod:`.topk`: exact chunked top-k and re-ranking;
* :mod:`.ann`: faiss Flat / IVF / HNSW; :mod:`.new_items`: features of new items; :mod:`.explain`: MISSRec's why;
* :mod:`.catalogue`, :mod:`.sources`: raw ids and texts; :mod:`.cli`: the command line.
"""

from missrec.recommend.errors import RecommendError, UnknownItemsError
from missrec.recommend.recommender import Recommendation, Recommender

__all__ = ["Recommendation", "RecommendError", "Recommender", "UnknownItemsError"]
