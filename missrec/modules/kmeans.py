"""K-means for interest discovery: faiss when importable (GPU build on CUDA tensors), else pure torch (CPU/CUDA).

Both are proper Lloyd k-means over *all* points, ``n_iter`` assignment/update rounds, with ``n_init`` restarts of
which the lowest inertia (sum of squared point-to-centroid distances) is kept. Seeding (``init``):

* ``k-means++``: exact D^2 sampling, one centre at a time. Plain random seeding often puts two centroids in one
  cluster and none in another, which Lloyd iterations do not repair; but exact k-means++ costs k sequential passes
  over the points (at MISSRec's pre-training scale, 894k x 300 -> 17,879, it reads ~18 TB of memory);
* ``batched-k-means++``: D^2 sampling in ``KMEANS_PP_ROUNDS`` rounds of k / rounds distinct centres each (the
  oversampling idea of k-means||, without its re-clustering step). Each round's distance update is one matrix
  product (faiss's flat search on the faiss path), so the whole seeding does the multiply-adds of one assignment
  pass: it scales;
* ``random``: k distinct points;
* ``auto``: exact k-means++ while n * k < 5e8, batched k-means++ above.

Empty clusters: the torch path re-seeds each with one of the points farthest from its centroid; faiss re-seeds one
by splitting the largest cluster (the empty centroid becomes a copy of the large one's, both moved apart by a small
symmetric perturbation), so neither leaves a zero vector. This deliberately does not reproduce the original
MISSRec's torchpq behaviour (spec missrec.md §3.3: one effective pass, centroids replaced by their absolute values,
empty clusters set to zero, far fewer distinct clusters than K).
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from missrec.numeric import check_kmeans_points

BACKENDS = ("auto", "faiss", "torch")
INITS = ("auto", "k-means++", "batched-k-means++", "random")
KMEANS_PP_MAX_WORK = 5e8  # init="auto": exact k-means++ while n_points * k stays below this, batched above
KMEANS_PP_ROUNDS = 16  # batched-k-means++: D^2 sampling rounds (benchmarks/kmeans_interest_discovery.py)


@dataclass
class KMeansResult:
    """Centroids ``[k, d]`` (float32, on the input's device), labels ``[n]`` (int64 in 0..k-1), backend used and
    inertia (sum of squared point-to-centroid distances)."""

    centroids: torch.Tensor
    labels: torch.Tensor
    backend: str
    inertia: float


def interest_count(n_points: int, ratio: float) -> int:
    """Number of interest clusters K = max(ceil(n_points * ratio), 1) (spec §3.3), capped at n_points."""
    return min(max(math.ceil(n_points * ratio), 1), n_points)


def faiss_available() -> bool:
    """Whether the ``faiss`` package can be imported."""
    return importlib.util.find_spec("faiss") is not None


def kmeans(
    points: torch.Tensor,
    k: int,
    n_iter: int = 20,
    seed: int = 0,
    backend: str = "auto",
    n_init: int = 1,
    init: str = "auto",
) -> KMeansResult:
    """Cluster ``points`` ``[n, d]`` into ``k`` clusters.

    Args:
        points: float tensor ``[n, d]`` (any device).
        k: number of clusters, 1 <= k <= n.
        n_iter: Lloyd iterations.
        seed: seed of the initial centroid draw.
        backend: ``auto`` (faiss if importable), ``faiss`` or ``torch``.
        n_init: independent restarts (seeds ``seed .. seed + n_init - 1``); the lowest inertia is kept.
        init: ``k-means++``, ``batched-k-means++``, ``random`` (distinct points) or ``auto`` (exact k-means++ when
            n * k < 5e8, batched above).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown k-means backend '{backend}'; choose one of {BACKENDS}")
    n = points.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k-means needs 1 <= k <= n points, got k={k}, n={n}")
    if init not in INITS:
        raise ValueError(f"unknown k-means init '{init}'; choose one of {INITS}")
    if n_init < 1:
        raise ValueError(f"k-means needs n_init >= 1 restarts, got {n_init}")
    if init == "auto":
        init = "k-means++" if n * k < KMEANS_PP_MAX_WORK else "batched-k-means++"
    points = points.detach().float()
    check_kmeans_points(points)  # faiss aborts the process (no exception) on overflowing squared norms
    if backend == "faiss" or (backend == "auto" and faiss_available()):
        return _faiss_kmeans(points, k, n_iter, seed, n_init, init)
    runs = [_torch_kmeans(points, k, n_iter, seed + i, init) for i in range(n_init)]
    return min(runs, key=lambda r: r.inertia)


def kmeans_plus_plus(points: torch.Tensor, k: int, seed: int) -> torch.Tensor:
    """k-means++ seeding: indices ``[k]`` of points drawn with probability proportional to the squared distance to
    the nearest centroid chosen so far. Cost ~ one Lloyd iteration (k matrix-vector products)."""
    n = points.shape[0]
    generator = torch.Generator().manual_seed(seed)
    uniforms = torch.rand(k, generator=generator, dtype=torch.float64).to(points.device)
    sq = (points * points).sum(1)  # [n]
    chosen = torch.empty(k, dtype=torch.long, device=points.device)
    chosen[0] = (uniforms[0] * n).long().clamp(max=n - 1)
    nearest = (sq - 2 * points @ points[chosen[0]] + sq[chosen[0]]).clamp(min=0)  # [n]
    for i in range(1, k):
        cdf = nearest.double().cumsum(0)
        target = uniforms[i] * cdf[-1]
        # all-zero distances (k > distinct points): fall back to a uniform draw
        pick = torch.where(cdf[-1] > 0, torch.searchsorted(cdf, target), (uniforms[i] * n).long())
        chosen[i] = pick.clamp(max=n - 1)
        nearest = torch.minimum(nearest, (sq - 2 * points @ points[chosen[i]] + sq[chosen[i]]).clamp(min=0))
    return chosen


def batched_kmeans_plus_plus(
    points: torch.Tensor,
    k: int,
    seed: int,
    rounds: int = KMEANS_PP_ROUNDS,
    nearest_sq: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """D^2 sampling in ``rounds`` rounds: indices ``[k]`` of distinct points. Each round draws ceil((k-1) / rounds)
    new centres without replacement with probability proportional to the squared distance to the nearest centre
    chosen in earlier rounds, then updates those distances with one chunked matrix product.

    ``nearest_sq(indices [m]) -> [n]`` gives every point's squared distance to the nearest of the points
    ``indices``; default :func:`assign` in torch (the faiss path passes faiss's exact search, several times faster
    on CPU)."""
    if nearest_sq is None:
        nearest_sq = lambda idx: assign(points, points[idx.to(points.device)])[1]  # noqa: E731
    n = points.shape[0]
    generator = torch.Generator().manual_seed(seed)
    first = int(torch.randint(n, (1,), generator=generator))
    chosen = [torch.tensor([first])]
    taken = torch.zeros(n, dtype=torch.bool)
    taken[first] = True
    nearest = nearest_sq(torch.tensor([first])).double().cpu()  # [n]
    per_round = math.ceil((k - 1) / max(rounds, 1)) if k > 1 else 0
    remaining = k - 1
    while remaining > 0:
        weights = torch.where(taken, 0.0, nearest.clamp(min=0))
        if float(weights.sum()) <= 0:  # every point left coincides with a centre: draw uniformly among them
            weights = (~taken).double()
        picked = torch.multinomial(weights, min(per_round, remaining), replacement=False, generator=generator)
        chosen.append(picked)
        taken[picked] = True
        remaining -= picked.numel()
        if remaining > 0:
            nearest = torch.minimum(nearest, nearest_sq(picked).double().cpu())
    return torch.cat(chosen).to(points.device)


def _initial_indices(
    points: torch.Tensor, k: int, seed: int, init: str, nearest_sq: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> torch.Tensor:
    if init == "k-means++":
        return kmeans_plus_plus(points, k, seed)
    if init == "batched-k-means++":
        return batched_kmeans_plus_plus(points, k, seed, nearest_sq=nearest_sq)
    return torch.randperm(points.shape[0], generator=torch.Generator().manual_seed(seed))[:k].to(points.device)


def _faiss_kmeans(points: torch.Tensor, k: int, n_iter: int, seed: int, n_init: int, init: str) -> KMeansResult:
    import faiss

    x = np.ascontiguousarray(points.cpu().numpy(), dtype=np.float32)
    n, d = x.shape
    use_gpu = points.is_cuda and hasattr(faiss, "get_num_gpus") and faiss.get_num_gpus() > 0
    km = faiss.Kmeans(
        d,
        k,
        niter=n_iter,
        seed=seed,
        gpu=use_gpu,
        min_points_per_centroid=1,  # MISSRec's ratio 0.5 gives 2 points per centroid: no warning spam
        max_points_per_centroid=math.ceil(n / k) + 1,  # train on all points (faiss subsamples by default)
        verbose=False,
    )
    best = None
    for run in range(n_init):
        km.seed = seed + run
        nearest_sq = None if points.is_cuda else _faiss_nearest_sq(x)  # CUDA tensors: torch's matmul on the GPU
        initial = x[_initial_indices(points, k, seed + run, init, nearest_sq).cpu().numpy()]
        if n_iter > 0:
            km.train(x, init_centroids=initial)
        else:  # faiss trains at least one iteration: 0 iterations = the seeds themselves
            km.centroids = np.ascontiguousarray(initial)
        # the inertia of the FINAL centroids (faiss's obj[-1] is that of the assignment before the last update)
        index = faiss.IndexFlatL2(d)
        index.add(km.centroids)
        dists, labels = index.search(x, 1)
        if best is None or float(dists.sum()) < best[0]:
            best = (float(dists.sum()), km.centroids.copy(), labels[:, 0].astype(np.int64))
    inertia, centroids, labels = best
    return KMeansResult(torch.from_numpy(centroids).to(points.device), torch.from_numpy(labels).to(points.device),
                        "faiss", inertia)


def _faiss_nearest_sq(x: np.ndarray) -> Callable[[torch.Tensor], torch.Tensor]:
    """``indices [m] -> [n]``: squared distance of every row of ``x`` to the nearest of the rows ``indices``
    (faiss's exact flat search)."""
    import faiss

    def nearest_sq(indices: torch.Tensor) -> torch.Tensor:
        index = faiss.IndexFlatL2(x.shape[1])
        index.add(np.ascontiguousarray(x[indices.cpu().numpy()]))
        dists, _ = index.search(x, 1)
        return torch.from_numpy(dists[:, 0])

    return nearest_sq


@contextlib.contextmanager
def _fast_matmul(device: torch.device) -> Iterator[None]:
    """TF32 matmuls on CUDA for the distance computation (assignment tolerates it; 7x the FP32 rate on Hopper)."""
    if device.type != "cuda":
        yield
        return
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before


def assign(points: torch.Tensor, centroids: torch.Tensor, chunk_elems: int = 1 << 26) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest centroid of every point, computed in chunks of points so ``[chunk, k]`` stays bounded.

    Returns:
        labels ``[n]`` int64 and squared distances ``[n]``.
    """
    n, k = points.shape[0], centroids.shape[0]
    chunk = max(1, chunk_elems // max(k, 1))
    c_sq = (centroids * centroids).sum(1)  # [k]
    labels = torch.empty(n, dtype=torch.long, device=points.device)
    dists = torch.empty(n, dtype=points.dtype, device=points.device)
    with _fast_matmul(points.device):
        for start in range(0, n, chunk):
            x = points[start : start + chunk]
            d = c_sq - 2.0 * (x @ centroids.T)  # [c, k] = ||c||^2 - 2 x.c  (||x||^2 does not change the argmin)
            best, idx = d.min(1)
            labels[start : start + chunk] = idx
            dists[start : start + chunk] = (best + (x * x).sum(1)).clamp(min=0)
    return labels, dists


def _torch_kmeans(points: torch.Tensor, k: int, n_iter: int, seed: int, init: str) -> KMeansResult:
    centroids = points[_initial_indices(points, k, seed, init)].clone()
    for _ in range(n_iter):
        labels, dists = assign(points, centroids)
        counts = torch.bincount(labels, minlength=k)
        sums = torch.zeros_like(centroids).index_add_(0, labels, points)
        centroids = sums / counts.clamp(min=1).unsqueeze(1).to(points.dtype)
        empty = (counts == 0).nonzero().squeeze(1)
        if empty.numel():  # re-seed each empty cluster with one of the points farthest from its centroid
            centroids[empty] = points[dists.topk(empty.numel()).indices]
    labels, dists = assign(points, centroids)
    return KMeansResult(centroids, labels, "torch", float(dists.sum()))
