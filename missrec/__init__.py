"""missrec: multimodal recommendation on RecBole 1.2.1 (MISSRec, UniSRec, SASRec, graph multimodal models)."""

from missrec import compat  # noqa: F401  (must run before anything imports recbole)

__version__ = "0.1.0"


def __getattr__(name: str):
    # imported on first use: `import missrec` stays cheap for the CLIs that do not serve recommendations
    if name == "Recommender":
        from missrec.recommend import Recommender

        return Recommender
    raise AttributeError(f"module 'missrec' has no attribute {name!r}")
