"""General (graph) recommenders; importing this package registers them with ``kind="general"``.

Every model follows :class:`missrec.models.graph.base.GraphRecommender` (see its module doc for the contract).
"""

from missrec.models.graph import bpr, freedom, lattice, lightgcn, vbpr  # noqa: F401
from missrec.models.graph import bm3, grcn, micro, sgfd  # noqa: F401
from missrec.models.graph import mmssl, sea  # noqa: F401
from missrec.models.graph.base import GraphRecommender

__all__ = ["GraphRecommender"]
