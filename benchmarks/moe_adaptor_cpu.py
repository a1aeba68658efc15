"""UniSRec's MoE adaptor in training: the experts' own forward (``sum_k g_k W_k (dropout_k(x) - b_k)`` through each
expert, as the released code) against the fused forward of ``missrec.modules.adaptors.MoEAdaptor`` (one batched
matmul, the bias folded into ``W_k b_k``), each with torch's dropout and with the fast CPU dropout; same run.

    OMP_NUM_THREADS=1 python benchmarks/moe_adaptor_cpu.py
    OMP_NUM_THREADS=1 python benchmarks/moe_adaptor_cpu.py --rows 8192 --steps 3

Sizes default to UniSRec fine-tuning on ML100K_mm_full: a batch of 2,048 histories of 18 items on average (37,000
adapted positions), MiniLM text (d = 384), hidden 64 (props/datasets/ML100K_mm_full.yaml), 8 experts, adaptor
dropout 0.2. Timed: forward, backward of a random projection of the output, first call not timed.
"""

from __future__ import annotations

import argparse
import time

import torch
from tabulate import tabulate

from missrec.modules.adaptors import MoEAdaptor
from missrec.modules.fast_dropout import use_fast_dropout


def experts_own_forward(moe: MoEAdaptor, x: torch.Tensor) -> torch.Tensor:
    """The released form: every expert's ``W_k (dropout_k(x) - b_k)``, stacked and mixed by the gates."""
    gates = moe.gates(x).unsqueeze(-1)
    return (gates * torch.stack([expert(x) for expert in moe.experts], dim=-2)).sum(dim=-2)


def seconds_per_step(forward, moe: MoEAdaptor, x: torch.Tensor, steps: int) -> float:
    grad = torch.randn(x.shape[0], moe.experts[0].lin.out_features)

    def step() -> None:
        moe.zero_grad()
        (forward(moe, x) * grad).sum().backward()

    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=37_000, help="adapted positions per step (batch x mean length)")
    parser.add_argument("--hidden", type=int, default=64, help="adaptor output size (UniSRec.yaml alone: 300)")
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(args.rows, 384)
    rows = []
    times = {}
    for dropout_kind in ("torch", "fast"):
        for form, forward in (("experts' own forward", experts_own_forward), ("fused (ours)", MoEAdaptor.forward)):
            moe = MoEAdaptor(384, args.hidden, n_exps=8, dropout=0.2).train()
            if dropout_kind == "fast":
                use_fast_dropout(moe)
            times[form, dropout_kind] = seconds_per_step(forward, moe, x, args.steps)
    base = times["experts' own forward", "torch"]
    for (form, dropout_kind), seconds in times.items():
        rows.append([form, "torch bernoulli_" if dropout_kind == "torch" else "fast CPU dropout",
                     f"{seconds * 1e3:,.0f} ms", f"{base / seconds:.2f}x"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); {args.rows:,} rows, "
          f"d 384 -> {args.hidden}, 8 experts")
    print(tabulate(rows, headers=["MoE forward", "dropout", "forward + backward", "vs released form, torch dropout"],
                   tablefmt="github"))


if __name__ == "__main__":
    main()
