"""In-batch contrastive losses with negatives gathered across processes (or kept local).

With ``gather_negatives`` every process scores its B local anchors against the B * W candidates of all W processes
(an all-gather that keeps the gradient of the local slice), so the contrastive task sees the same negatives as
single-process training on the global batch. The original MISSRec/UniSRec never did this (its DDP wrapper was
discarded, spec missrec.md §1.3): every rank trained alone on its 1/W slice with B local negatives.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F


def distributed() -> bool:
    """Whether a process group with more than one process is active."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    """Number of processes of the active group (1 without one)."""
    return dist.get_world_size() if distributed() else 1


def global_max(value: int, device: torch.device) -> int:
    """The largest ``value`` over all processes (the value itself without a process group)."""
    if not distributed():
        return value
    t = torch.tensor([value], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


class _AllGather(torch.autograd.Function):
    """All-gather along dim 0; backward sums every process's gradient and returns this process's slice."""

    @staticmethod
    def forward(ctx, t: torch.Tensor) -> torch.Tensor:
        ctx.batch = t.shape[0]
        parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, t.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)  # d(sum of all processes' losses) / d(gathered)
        start = dist.get_rank() * ctx.batch
        return grad[start : start + ctx.batch]


def gather_with_grad(t: torch.Tensor) -> torch.Tensor:
    """``[B, ...]`` -> ``[W * B, ...]`` concatenated in rank order; gradients flow back to each rank's slice."""
    if not distributed():
        return t
    return _AllGather.apply(t)


def gather_no_grad(t: torch.Tensor) -> torch.Tensor:
    """All-gather without autograd (ids, masks)."""
    if not distributed():
        return t
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts, dim=0)


def local_offset(batch: int, gathered: bool) -> int:
    """Index of this process's first anchor among the gathered candidates."""
    return dist.get_rank() * batch if gathered and distributed() else 0


def in_batch_cross_entropy(
    logits: torch.Tensor, offset: int, same_target: torch.Tensor | None = None, same_target_logit: float = float("-inf")
) -> torch.Tensor:
    """Cross-entropy of anchor ``i`` against candidate ``offset + i``.

    Args:
        logits: ``[B, N]`` scores of the B local anchors against N candidates.
        offset: position of the local anchors among the candidates.
        same_target: optional ``[B, N]`` bool, True where the candidate shares the anchor's target item; those
            false negatives get the logit ``same_target_logit`` (the positive itself is kept).
        same_target_logit: ``-inf`` excludes them from the softmax (default); ``0.0`` is UniSRec's released form,
            which still adds ``exp(0) = 1`` per such candidate to the denominator (spec missrec.md §8.3).
    """
    labels = torch.arange(logits.shape[0], device=logits.device) + offset
    if same_target is not None:
        positive = F.one_hot(labels, logits.shape[1]).bool()
        logits = logits.masked_fill(same_target & ~positive, same_target_logit)
    return F.cross_entropy(logits, labels)


def same_target_logit(config) -> float:
    """The logit given to same-target in-batch candidates: excluded (-inf), or UniSRec's released 0 with
    ``legacy_same_target_zero_logit``."""
    return 0.0 if config["legacy_same_target_zero_logit"] else float("-inf")
