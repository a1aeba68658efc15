"""InfoNCE over all items, forward + backward: ours (one block of exponentials, hand-written backward) against the
same loss left to autograd (the logits, the masked self-similarities and their concatenation, ``logsumexp``), same
run, same inputs. The reference is the implementation this package used before; MICRO and MMSSL call the
intra-view form (GRACE), SEA the standard one.

    OMP_NUM_THREADS=1 python benchmarks/info_nce_cpu.py
    OMP_NUM_THREADS=1 python benchmarks/info_nce_cpu.py --items 1682 3313 --repeats 5
    OMP_NUM_THREADS=1 python benchmarks/info_nce_cpu.py --items 63001 --micro-chunks --no-reference --repeats 1

``[N, 64]`` random pairs, τ 0.5, best of ``--repeats`` timings after one untimed call. ``max |Δgrad|`` is the largest
difference between the two implementations' gradients, relative to the largest gradient entry. Ours takes all anchors
in one chunk, as MICRO does up to 4,096 items, or with ``--micro-chunks`` as many at a time as MICRO takes at
that size (:func:`missrec.models.graph.micro.contrastive_chunk_rows`: each chunk's exponentials recomputed in the
backward pass). ``--no-reference`` times ours alone, for sizes where the reference's ``[N, 2N]`` logits do not fit
(63,001 items, Amazon Electronics: 32 GB).
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import torch
import torch.nn.functional as F
from tabulate import tabulate

from missrec.models.graph.micro import contrastive_chunk_rows
from missrec.modules.losses import info_nce


def autograd_info_nce(z1: torch.Tensor, z2: torch.Tensor, tau: float, intra: bool) -> torch.Tensor:
    """The reference: every logit materialised, the backward left to autograd."""
    a, b = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    between = a @ b.T / tau  # [N, N]
    positive = between.diagonal()
    logits = between
    if intra:
        logits = torch.cat([between, (a @ a.T / tau).fill_diagonal_(float("-inf"))], 1)  # [N, 2N]
    return (torch.logsumexp(logits, 1) - positive).mean()


def timed(loss_fn, z1: torch.Tensor, z2: torch.Tensor, repeats: int) -> tuple[float, tuple[torch.Tensor, ...]]:
    """Best forward + backward time of ``repeats`` calls (one untimed first) and the gradients of the last."""
    best = float("inf")
    for call in range(repeats + 1):
        x1, x2 = z1.clone().requires_grad_(), z2.clone().requires_grad_()
        start = time.perf_counter()
        loss_fn(x1, x2).backward()
        if call:
            best = min(best, time.perf_counter() - start)
    return best, (x1.grad, x2.grad)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, nargs="+", default=[1682, 3313, 7050])
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--micro-chunks", action="store_true", help="anchors per chunk as MICRO takes them")
    parser.add_argument("--no-reference", action="store_true", help="time ours only (no autograd baseline)")
    args = parser.parse_args()
    gen = torch.Generator().manual_seed(0)
    rows = []
    for n in args.items:
        z1, z2 = torch.randn(n, args.dim, generator=gen), torch.randn(n, args.dim, generator=gen)
        for intra in (True, False):
            chunk = min(contrastive_chunk_rows(n), n) if args.micro_chunks else n  # anchors one chunk takes
            ours = partial(info_nce, tau=0.5, intra_view_negatives=intra, chunk_rows=chunk)
            ours_s, grads = timed(ours, z1, z2, args.repeats)
            autograd_cell = speed_up = grad_diff = "–"
            if not args.no_reference:
                ref_s, ref_grads = timed(partial(autograd_info_nce, tau=0.5, intra=intra), z1, z2, args.repeats)
                scale = max(float(g.abs().max()) for g in ref_grads)
                diff = max(float((g - r).abs().max()) for g, r in zip(grads, ref_grads)) / scale
                autograd_cell, speed_up, grad_diff = f"{ref_s:.3f}", f"{ref_s / ours_s:.2f}x", f"{diff:.1e}"
            rows.append([f"{n:,}", "GRACE (intra-view)" if intra else "standard", f"{chunk:,}", autograd_cell,
                         f"{ours_s:.3f}", speed_up, grad_diff])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), d = {args.dim}, tau = 0.5")
    headers = ["items", "form", "anchors per chunk", "autograd s", "ours s", "speed-up", "max |Δgrad|"]
    print(tabulate(rows, headers=headers, tablefmt="github"))


if __name__ == "__main__":
    main()
