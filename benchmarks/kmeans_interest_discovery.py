"""Interest-discovery k-means: seconds per Lloyd iteration, faiss vs the torch path, at MISSRec's scales.

    python benchmarks/kmeans_interest_discovery.py                       # CPU: faiss-cpu (if installed) and torch
    python benchmarks/kmeans_interest_discovery.py --device cuda         # adds the torch CUDA path

Scales: ``fhckm`` = pre-training on FHCKM, 2 x 446,975 adapted embeddings x 300-d -> 17,879 centroids (ratio 0.02);
``office`` = fine-tuning on Office, 2 x 25,986 x 300 -> 25,986 (ratio 0.5). Per-iteration time is
``(t(1 + iters) - t(1)) / iters``, so initialisation and the final assignment are excluded; both are reported.
Points are a Gaussian mixture (adapted embeddings are not uniform noise).
"""

from __future__ import annotations

import argparse
import time

import torch

from missrec.modules.kmeans import faiss_available, kmeans

SCALES = {"fhckm": (2 * 446_975, 300, 17_879), "office": (2 * 25_986, 300, 25_986)}


def mixture(n: int, d: int, device: str, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(max(n // 50, 1), d, generator=g)
    points = centres[torch.randint(len(centres), (n,), generator=g)] + 0.5 * torch.randn(n, d, generator=g)
    return points.to(device)


def timed(points: torch.Tensor, k: int, n_iter: int, backend: str) -> float:
    if points.is_cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    kmeans(points, k, n_iter=n_iter, seed=0, backend=backend, init="random")
    if points.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), nargs="+", default=["office", "fhckm"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--iters", type=int, default=2, help="extra iterations timed after a 1-iteration run")
    args = parser.parse_args()
    backends = (["faiss"] if faiss_available() else []) + ["torch"]
    print(f"device {args.device} ({torch.cuda.get_device_name() if args.device.startswith('cuda') else f'{torch.get_num_threads()} CPU threads'}), torch {torch.__version__}")
    print("| scale | points x dim -> k | backend | 1 iteration incl. init + final assign (s) | s per extra iteration |")
    print("|---|---|---|---|---|")
    for scale in args.scale:
        n, d, k = SCALES[scale]
        points = mixture(n, d, args.device)
        for backend in backends:
            one = timed(points, k, 1, backend)
            more = timed(points, k, 1 + args.iters, backend)
            print(f"| {scale} | {n:,} x {d} -> {k:,} | {backend} ({'GPU' if points.is_cuda and backend == 'torch' else 'CPU' if backend == 'faiss' else args.device}) "
                  f"| {one:.2f} | {(more - one) / args.iters:.3f} |", flush=True)


if __name__ == "__main__":
    main()
