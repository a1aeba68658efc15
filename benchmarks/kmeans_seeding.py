"""Interest-discovery k-means: inertia against time for each seeding and number of restarts, at MISSRec's scales.

    python benchmarks/kmeans_seeding.py --scale office                     # CPU (faiss-cpu when installed)
    python benchmarks/kmeans_seeding.py --scale office fhckm --device cuda # GPU (faiss-gpu or the torch CUDA path)

Scales: ``office`` = fine-tuning on Office, 2 x 25,986 adapted embeddings x 300-d -> 25,986 centroids (ratio 0.5);
``fhckm`` = pre-training on FHCKM, 2 x 446,975 x 300 -> 17,879 (ratio 0.02); ``pretrain-small`` = FHCKM's 50 points
a cluster at 1/18 of its points, 50,000 x 300 -> 1,000, where exact k-means++ is cheap enough to compare. Points are
a Gaussian mixture with one planted centre per 50 points and unequal cluster sizes (adapted embeddings are neither
uniform noise nor evenly clustered). Every configuration runs the same ``--iters`` Lloyd iterations; the table gives
the seeding time alone, the total time, the final inertia relative to the best configuration of the scale and to the
planted partition, and how many of the K clusters received points. Exact k-means++ is skipped where n * K exceeds
``--exact-max-work`` (it reads the points K times in sequence: hours at FHCKM scale on a CPU).
"""

from __future__ import annotations

import argparse
import time

import torch

from missrec.modules.kmeans import faiss_available, kmeans

SCALES = {
    "office": (2 * 25_986, 300, 25_986),
    "fhckm": (2 * 446_975, 300, 17_879),
    "pretrain-small": (50_000, 300, 1_000),
}
CONFIGS = [("random", 1), ("random", 3), ("batched-k-means++", 1), ("batched-k-means++", 3), ("k-means++", 1)]


def mixture(n: int, d: int, device: str, seed: int = 0) -> tuple[torch.Tensor, float]:
    """``[n, d]`` points around ``n // 50`` centres with Pareto-distributed cluster sizes, and the inertia of the
    planted partition (each point to the mean of its own cluster's points)."""
    g = torch.Generator().manual_seed(seed)
    n_centres = max(n // 50, 1)
    centres = torch.randn(n_centres, d, generator=g)
    sizes = torch.distributions.Pareto(1.0, 1.5).sample((n_centres,))
    members = torch.multinomial(sizes / sizes.sum(), n, replacement=True, generator=g)
    points = centres[members] + 0.3 * torch.randn(n, d, generator=g)
    counts = torch.bincount(members, minlength=n_centres).clamp(min=1).unsqueeze(1)
    means = torch.zeros(n_centres, d).index_add_(0, members, points) / counts
    planted = float(((points - means[members]) ** 2).sum())
    return points.to(device), planted


def timed_kmeans(points: torch.Tensor, k: int, iters: int, init: str, restarts: int, backend: str):
    if points.is_cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    result = kmeans(points, k, n_iter=iters, seed=0, backend=backend, n_init=restarts, init=init)
    if points.is_cuda:
        torch.cuda.synchronize()
    return result, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), nargs="+", default=["office"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--iters", type=int, default=10, help="Lloyd iterations of every run (default: %(default)s)")
    parser.add_argument("--backend", default="auto", choices=["auto", "faiss", "torch"])
    parser.add_argument("--exact-max-work", type=float, default=2e9, help="skip exact k-means++ above this n * K")
    parser.add_argument("--max-restarts", type=int, default=3, help="skip configurations with more restarts")
    args = parser.parse_args()
    backend = args.backend if args.backend != "auto" else ("faiss" if faiss_available() else "torch")
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"{torch.get_num_threads()} CPU threads"
    print(f"k-means {backend} on {args.device} ({where}), torch {torch.__version__}, {args.iters} Lloyd iterations")
    print(
        "| scale | points x dim -> K | seeding | restarts | seeding s (1 start) | total s | inertia / best "
        "| inertia / planted | clusters used |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for scale in args.scale:
        n, d, k = SCALES[scale]
        points, planted = mixture(n, d, args.device)
        rows = []
        for init, restarts in [c for c in CONFIGS if c[1] <= args.max_restarts]:
            if init == "k-means++" and n * k > args.exact_max_work:
                rows.append((init, restarts, None, None, None, None))
                continue
            _, seeding = timed_kmeans(points, k, 0, init, 1, backend)
            result, total = timed_kmeans(points, k, args.iters, init, restarts, backend)
            rows.append((init, restarts, seeding, total, result.inertia, int(result.labels.unique().numel())))
            print(f"  ({scale} {init} x{restarts}: {total:.1f}s)", flush=True)
        best = min(r[4] for r in rows if r[4] is not None)
        for init, restarts, seeding, total, inertia, used in rows:
            if inertia is None:
                print(
                    f"| {scale} | {n:,} x {d} -> {k:,} | {init} | {restarts} "
                    f"| skipped (n*K > {args.exact_max_work:.0e}) | | | | |"
                )
                continue
            print(
                f"| {scale} | {n:,} x {d} -> {k:,} | {init} | {restarts} | {seeding:.1f} | {total:.1f} | "
                f"{inertia / best:.4f} | {inertia / planted:.4f} | {used:,} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
