"""SGFD's semantic-guided feature distillation terms (graph_models.md §4.11).

``L_SGFD = ce_weight (mean_m CE(C_m t_m, y) + CE(C_f [t_t; t_v], y))
         + kd_weight (mean_m kd_response(C_m t_m, C_m s_m, T) + mean_m kd_feature(s_m, t_m))``

The released code passes softmax probabilities into ``F.cross_entropy`` (a double softmax); the paper means a
cross-entropy on logits, which is the default here (``double_softmax=True`` reproduces the code). Neither KD term
detaches the teacher in the released code (``detach_teacher=False`` keeps that).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

KD_DISTANCES = ("l1", "mse", "kl")


def semantic_ce(logits: torch.Tensor, labels: torch.Tensor, double_softmax: bool = False) -> torch.Tensor:
    """Cross-entropy of category ``logits [B, C]`` against ``labels [B]``; see the module doc for the switch."""
    if double_softmax:
        logits = torch.softmax(logits, -1)
    return F.cross_entropy(logits, labels)


def kd_response(
    teacher_logits: torch.Tensor,
    student_logits: torch.Tensor,
    temperature: float,
    distance: str = "l1",
    detach_teacher: bool = False,
) -> torch.Tensor:
    """Response-based KD between ``softmax(t / T)`` and ``softmax(s / T)`` ``[B, C]``.

    ``l1`` (SGFD BM3/GRCN: element-wise mean absolute difference), ``mse`` (SGFD MAML) or ``kl``
    (``KL(p_t || p_s)``, batch mean, no ``T^2`` factor).
    """
    if distance not in KD_DISTANCES:
        raise ValueError(f"unknown KD distance '{distance}'; known: {list(KD_DISTANCES)}")
    if detach_teacher:
        teacher_logits = teacher_logits.detach()
    p_t = torch.softmax(teacher_logits / temperature, -1)
    if distance == "kl":
        return F.kl_div(torch.log_softmax(student_logits / temperature, -1), p_t, reduction="batchmean")
    p_s = torch.softmax(student_logits / temperature, -1)
    return (p_t - p_s).abs().mean() if distance == "l1" else F.mse_loss(p_s, p_t)


def kd_feature(student: torch.Tensor, teacher: torch.Tensor, detach_teacher: bool = False) -> torch.Tensor:
    """Feature-based KD: ``MSE(s, t)`` over ``[B, d]``."""
    return F.mse_loss(student, teacher.detach() if detach_teacher else teacher)
