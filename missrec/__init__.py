"""missrec: multimodal recommendation on RecBole 1.2.1 (MISSRec, UniSRec, SASRec, graph multimodal models)."""

from missrec import compat  # noqa: F401  (must run before anything imports recbole)

__version__ = "0.1.0"
