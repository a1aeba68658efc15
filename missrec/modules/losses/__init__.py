"""Losses shared by graph and sequential models.

* :mod:`.ranking`: ``bpr_loss`` (ln / log2, stable or MMRec's eps form) and ``l2_regulariser`` (frobenius /
  half_squared / mean_squared);
* :mod:`.contrastive`: ``info_nce`` (standard or GRACE with intra-view negatives, chunked) and ``byol_cosine``;
* :mod:`.club`: ``CLUBSample`` and ``club_estimator_step`` (SEA);
* :mod:`.distillation`: ``semantic_ce``, ``kd_response``, ``kd_feature`` (SGFD);
* :mod:`.adversarial`: ``gradient_penalty`` (MMSSL's WGAN-GP).
"""

from missrec.modules.losses.adversarial import gradient_penalty
from missrec.modules.losses.club import CLUBSample, club_estimator_step
from missrec.modules.losses.contrastive import byol_cosine, info_nce
from missrec.modules.losses.distillation import KD_DISTANCES, kd_feature, kd_response, semantic_ce
from missrec.modules.losses.ranking import REG_STYLES, bpr_loss, l2_regulariser

__all__ = [
    "CLUBSample",
    "KD_DISTANCES",
    "REG_STYLES",
    "bpr_loss",
    "byol_cosine",
    "club_estimator_step",
    "gradient_penalty",
    "info_nce",
    "kd_feature",
    "kd_response",
    "l2_regulariser",
    "semantic_ce",
]
