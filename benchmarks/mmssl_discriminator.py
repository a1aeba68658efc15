"""MMSSL's discriminator as the catalogue grows: peak memory of one critic step and one generator pass, and the
catalogue size where it stops fitting a memory budget.

    OMP_NUM_THREADS=2 python benchmarks/mmssl_discriminator.py                        # CPU, released widths
    OMP_NUM_THREADS=2 python benchmarks/mmssl_discriminator.py --items 63001 --max-width 4096 1024 --capped-only
    python benchmarks/mmssl_discriminator.py --device cuda --items 40000 63001 100000 130000

The released critic is an MLP ``I -> I/4 -> I/8 -> 1`` (graph_models.md §4.9): ``0.28 I^2`` weights, which with
their gradient and Adam's two moments take ``16 x 0.28 I^2 = 4.5 I^2`` bytes (the critic's Adam is fused, so no
parameter-sized temporaries come on top). Each size runs in a fresh child
process (peak = process RSS on CPU, ``torch.cuda.max_memory_allocated`` on GPU) doing what one MMSSL batch does with
the critic: one WGAN-GP step of its own Adam on ``[M B, I]`` real and fake rows (M = 2 modalities, B = 1024 users;
the gradient penalty back-propagates twice), then the generator loss ``-mean D(s)`` through the frozen critic back
to its input. The parent fits ``peak = a + b I^2`` (least squares over the sizes run with the released widths) and
prints where the fit crosses 8 GB and 80 GB. A size whose predicted peak exceeds ``--limit-gb`` is skipped, so the
benchmark never takes more than that from a shared machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

DEFAULT_ITEMS = [7_050, 18_357, 23_033, 30_000, 36_000]  # Baby, Sports, Clothing, then larger
BUDGETS_GB = (8, 80)


def child(n_items: int, max_width: int | None, rows: int, device: str) -> dict:
    import torch

    from missrec.models.graph.mmssl import MMSSL
    from missrec.models.graph.mmssl_modules import Discriminator, critic_adam
    from missrec.modules.losses.auxiliary import AuxiliaryOptimizer

    torch.manual_seed(0)
    dev = torch.device(device)
    critic = Discriminator(n_items, max_width=max_width).to(dev)
    n_params = sum(p.numel() for p in critic.parameters())
    aux = AuxiliaryOptimizer(critic, critic_adam(3e-4, (0.5, 0.9)))  # MMSSL's D_lr, D_betas
    host = SimpleNamespace(discriminator=critic, gp_rate=1.0)  # what MMSSL.discriminator_loss reads
    real = torch.softmax(torch.randn(rows, n_items, device=dev), 1)  # [M B, I]
    fake = torch.softmax(torch.randn(rows, n_items, device=dev), 1).requires_grad_(True)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    t0 = time.perf_counter()
    aux.step(lambda: MMSSL.discriminator_loss(host, real, fake.detach()))
    sync()
    critic_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    (-critic(fake).mean()).backward()  # the generator term: gradient reaches s^m, not the frozen critic
    sync()
    generator_s = time.perf_counter() - t0
    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated(dev)
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"items": n_items, "max_width": max_width, "params": n_params, "critic_step_s": critic_s,
            "generator_s": generator_s, "peak_gb": peak / 2**30}


def fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares ``peak_gb = a + b I^2`` over ``(I, peak_gb)``."""
    import numpy as np

    x = np.array([float(i) ** 2 for i, _ in points])
    y = np.array([p for _, p in points])
    b, a = np.polyfit(x, y, 1)
    return float(a), float(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, nargs="+", default=DEFAULT_ITEMS, help="catalogue sizes I")
    parser.add_argument("--max-width", type=int, nargs="*", default=[],
                        help="also run the largest --items with D_max_width set to each of these")
    parser.add_argument("--capped-only", action="store_true", help="run only the --max-width rows")
    parser.add_argument("--rows", type=int, default=2048, help="critic rows per batch: modalities x users (2 x 1024)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--limit-gb", type=float, default=9.5, help="skip sizes predicted to exceed this peak")
    parser.add_argument("--child", nargs=2, metavar=("ITEMS", "MAX_WIDTH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        width = None if args.child[1] == "none" else int(args.child[1])
        print(json.dumps(child(int(args.child[0]), width, args.rows, args.device)))
        return
    from missrec.models.graph.mmssl_modules import discriminator_widths

    peak = "GPU allocated" if args.device.startswith("cuda") else "process RSS"
    print(f"device {args.device}; {args.rows} critic rows per batch; peak = {peak}")
    print("| items I | D_max_width | widths | parameters | critic step s | generator pass s | peak GB |")
    print("|---|---|---|---|---|---|---|")
    released: list[tuple[int, float]] = []
    runs = [] if args.capped_only else [(i, None) for i in sorted(args.items)]
    runs += [(max(args.items), w) for w in args.max_width]
    for n_items, width in runs:
        if width is None and len(released) >= 2:
            a, b = fit(released)
            if a + b * n_items**2 > args.limit_gb:
                print(f"| {n_items:,} | released | | | | | skipped: predicted {a + b * n_items**2:.1f} GB "
                      f"> --limit-gb {args.limit_gb} |", flush=True)
                continue
        done = subprocess.run(
            [sys.executable, __file__, "--device", args.device, "--rows", str(args.rows),
             "--child", str(n_items), "none" if width is None else str(width)],
            capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1],
        )
        if done.returncode:
            reason = (done.stderr.strip().splitlines() or ["?"])[-1][:80]
            print(f"| {n_items:,} | {width or 'released'} | failed: {reason} | | | | |", flush=True)
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        widths = " -> ".join(f"{w:,}" for w in discriminator_widths(n_items, width))
        print(f"| {n_items:,} | {width or 'released'} | {widths} | {r['params'] / 1e6:,.1f}M | "
              f"{r['critic_step_s']:.2f} | {r['generator_s']:.2f} | {r['peak_gb']:.2f} |", flush=True)
        if width is None:
            released.append((n_items, r["peak_gb"]))
    if len(released) >= 2:
        a, b = fit(released)
        print(f"\nfit over the released widths: peak GB = {a:.3f} + {b * 1e9:.3f}e-9 I^2")
        for budget in BUDGETS_GB:
            print(f"fits {budget} GB up to I = {((budget - a) / b) ** 0.5:,.0f} items (extrapolated from the fit)")


if __name__ == "__main__":
    main()
