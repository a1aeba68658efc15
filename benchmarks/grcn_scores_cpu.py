"""GRCN's attention scores ``<p_u, f_i>`` over the interactions, forward and backward: torch's
``sampled_addmm`` autograd (which rebuilds the transposed pattern at every backward) against
``missrec.modules.graph.sparse.SampledDot`` (backward over the stored patterns); same run, same inputs, gradients
compared.

    OMP_NUM_THREADS=1 python benchmarks/grcn_scores_cpu.py
    OMP_NUM_THREADS=1 python benchmarks/grcn_scores_cpu.py --users 19445 --items 7050 --edges 118551   # Baby's size

Sizes default to ML100K_general's training graph (943 users, 1,682 items, 80,367 interactions) and GRCN's latent
size 64. One GRCN step computes these scores 2 x (num_routing + 1) times (two modalities, routing and content graph).
"""

from __future__ import annotations

import argparse
import time

import torch
from tabulate import tabulate

from missrec.modules.graph.attention import BipartiteEdges
from missrec.modules.graph.sparse import sddmm


def seconds_per_call(scores, a: torch.Tensor, b: torch.Tensor, steps: int) -> tuple[float, tuple[torch.Tensor, ...]]:
    grad = torch.randn(scores(a, b).shape[0], generator=torch.Generator().manual_seed(1))

    def call() -> tuple[torch.Tensor, ...]:
        a.grad = b.grad = None
        (scores(a, b) * grad).sum().backward()
        return a.grad.clone(), b.grad.clone()

    call()
    t0 = time.perf_counter()
    for _ in range(steps):
        grads = call()
    return (time.perf_counter() - t0) / steps, grads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=943)
    parser.add_argument("--items", type=int, default=1682)
    parser.add_argument("--edges", type=int, default=80_367)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    gen = torch.Generator().manual_seed(0)
    users = torch.randint(0, args.users, (args.edges,), generator=gen)
    items = torch.randint(0, args.items, (args.edges,), generator=gen)
    edges = BipartiteEdges(users, items, args.users, args.items)
    a = torch.randn(args.users, args.dim, generator=gen, requires_grad=True)
    b = torch.randn(args.items, args.dim, generator=gen, requires_grad=True)
    torch_s, torch_grads = seconds_per_call(lambda x, y: sddmm(edges.crow_u, edges.items, x, y), a, b, args.steps)
    ours_s, our_grads = seconds_per_call(edges.scores, a, b, args.steps)
    diff = max((t - o).abs().max().item() for t, o in zip(torch_grads, our_grads, strict=True))
    print(f"{args.users:,} users, {args.items:,} items, {edges.users.shape[0]:,} unique interactions, d = {args.dim}; "
          f"{torch.get_num_threads()} thread(s), torch {torch.__version__}")
    print(tabulate([["sampled_addmm autograd (torch)", f"{torch_s * 1e3:.1f}", "1.00x"],
                    ["SampledDot (ours)", f"{ours_s * 1e3:.1f}", f"{torch_s / ours_s:.2f}x"]],
                   headers=["scores forward + backward", "ms per call", "speed-up"], tablefmt="github"))
    print(f"largest gradient difference: {diff:.2e}")


if __name__ == "__main__":
    main()
