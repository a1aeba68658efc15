"""SASRec baseline: RecBole 1.2.1's own implementation, registered as-is (ID-based, so transductive only)."""

from recbole.model.sequential_recommender import SASRec

from missrec.registry import register_model

register_model("SASRec", kind="sequential", modes=("transductive",))(SASRec)
