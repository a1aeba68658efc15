"""Full-ranking evaluation: metric definitions and evaluators (next-item and general top-K)."""

from missrec.evaluation.metrics import METRICS, hits_from_target_rank, ranking_metric_sums

__all__ = ["METRICS", "hits_from_target_rank", "ranking_metric_sums"]
