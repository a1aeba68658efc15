"""Catalogue-scale retrieval: exact chunked scoring vs faiss Flat / IVF / HNSW on a synthetic 1M-item catalogue.

    python benchmarks/recommend_ann.py                                   # CPU, 1 search thread, 1M x 64
    python benchmarks/recommend_ann.py --items 100000 --json out.json    # smaller, results also as JSON
    python benchmarks/recommend_ann.py --device cuda                     # exact scoring on the GPU (+ faiss GPU
                                                                         # Flat/IVF when faiss has GPU support)

Items are unit vectors from a Gaussian mixture (``--clusters`` centres of norm ~1 plus noise of norm ``--noise``
before normalisation: embeddings of real items are clustered, not uniform), queries come from the same mixture. Ground
truth is the exact top 10 by inner product (:func:`missrec.recommend.topk.chunked_topk`, the recommender's default
path). Reported per method: recall@10 against exact, queries/s at batch 1 and batch 256, p50/p99 latency of one
call at each batch size, build seconds and memory (the serialised faiss index, or the item matrix for exact).
Index builds use ``--build-threads``; searches use ``--threads`` (default 1).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from missrec.io_utils import atomic_write_json  # noqa: E402
from missrec.recommend.ann import AnnIndex, require_faiss  # noqa: E402
from missrec.recommend.topk import chunked_topk  # noqa: E402


def mixture(n: int, centres: np.ndarray, rng: np.random.Generator, noise: float, chunk: int = 200_000) -> np.ndarray:
    """``[n, d]`` unit vectors around ``centres [clusters, d]`` (norm ~1) plus Gaussian noise of norm ~``noise``,
    generated ``chunk`` rows at a time."""
    clusters, d = centres.shape
    out = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, chunk):
        rows = min(chunk, n - start)
        x = centres[rng.integers(clusters, size=rows)] + rng.standard_normal((rows, d)).astype(np.float32) * noise / np.sqrt(d)
        out[start : start + rows] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def percentile_ms(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples) * 1000, q))


def measure(search, queries: np.ndarray, latency_queries: int, batch: int = 256) -> dict[str, float]:
    """Time ``search(queries [B, d]) -> ids [B, 10]``: single queries, then batches of ``batch``."""
    search(queries[:batch])  # warm-up
    single = []
    for row in queries[:latency_queries]:
        t0 = time.perf_counter()
        search(row[None])
        single.append(time.perf_counter() - t0)
    batched, found = [], []
    for start in range(0, len(queries), batch):
        t0 = time.perf_counter()
        found.append(search(queries[start : start + batch]))
        batched.append(time.perf_counter() - t0)
    return {
        "qps_batch1": len(single) / sum(single),
        "p50_ms_batch1": percentile_ms(single, 50),
        "p99_ms_batch1": percentile_ms(single, 99),
        "qps_batch256": len(queries) / sum(batched),
        "p50_ms_batch256": percentile_ms(batched, 50),
        "p99_ms_batch256": percentile_ms(batched, 99),
        "found": np.concatenate(found),
    }


def recall_at(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e)) / exact.shape[1] for f, e in zip(found, exact)]))


def exact_search(items: np.ndarray, device: str, k: int = 10):
    table = torch.from_numpy(items).to(device)

    def search(queries: np.ndarray) -> np.ndarray:
        q = torch.from_numpy(queries).to(device)
        _, ids = chunked_topk(lambda x, s, e: x @ table[s:e].T, q, table.shape[0], k)
        return ids.cpu().numpy()

    return search


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=64, help="item vector size (ML100K runs use hidden 64)")
    parser.add_argument("--clusters", type=int, default=2_000)
    parser.add_argument("--noise", type=float, default=1.0, help="noise norm around each centre (centres have norm ~1)")
    parser.add_argument("--queries", type=int, default=1_024)
    parser.add_argument("--latency-queries", type=int, default=200, help="single queries timed for batch-1 numbers")
    parser.add_argument("--threads", type=int, default=1, help="search threads (torch and faiss)")
    parser.add_argument("--build-threads", type=int, default=2, help="threads for the index builds")
    parser.add_argument("--nlist", type=int, default=1_024, help="IVF lists")
    parser.add_argument("--nprobe", type=int, nargs="+", default=[8, 32], help="IVF lists probed (one row each)")
    parser.add_argument("--hnsw-m", type=int, default=16, help="HNSW links per node")
    parser.add_argument("--ef-construction", type=int, default=64)
    parser.add_argument("--ef-search", type=int, nargs="+", default=[32, 128], help="HNSW beam widths (one row each)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (exact scoring; faiss GPU when available)")
    parser.add_argument("--json", default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    faiss = require_faiss()
    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((args.clusters, args.dim)).astype(np.float32) / np.sqrt(args.dim)
    items, queries = mixture(args.items, centres, rng, args.noise), mixture(args.queries, centres, rng, args.noise)
    print(f"catalogue {items.shape} in {time.perf_counter() - t0:.1f} s; {args.queries} queries; device {args.device}; "
          f"search threads {args.threads}", file=sys.stderr)

    rows = []
    exact = measure(exact_search(items, args.device), queries, args.latency_queries)
    truth = exact.pop("found")
    rows.append({"method": f"exact chunked ({args.device})", "params": "", "recall@10": 1.0, "build_s": 0.0,
                 "memory_mb": items.nbytes / 2**20, **exact})
    gpu = args.device.startswith("cuda") and hasattr(faiss, "StandardGpuResources")
    specs = [("flat", {}, [None]), ("ivf", {"nlist": args.nlist, "train_size": 100 * args.nlist}, args.nprobe),
             ("hnsw", {"hnsw_m": args.hnsw_m, "ef_construction": args.ef_construction}, args.ef_search)]
    for kind, params, settings in specs:
        faiss.omp_set_num_threads(args.build_threads)
        t0 = time.perf_counter()
        index = AnnIndex(items, kind, **params)
        build = time.perf_counter() - t0
        memory = index.memory_bytes() / 2**20
        searcher = index.index
        if gpu and kind != "hnsw":  # faiss has no GPU HNSW
            searcher = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index.index)
        faiss.omp_set_num_threads(args.threads)
        for setting in settings:
            if kind == "ivf":
                faiss.extract_index_ivf(searcher).nprobe = setting
            elif kind == "hnsw":
                searcher.hnsw.efSearch = setting
            found = measure(lambda q: searcher.search(q, 10)[1], queries, args.latency_queries)
            label = {"flat": "", "ivf": f"nlist {params.get('nlist')}, nprobe {setting}",
                     "hnsw": f"M {args.hnsw_m}, efC {args.ef_construction}, efSearch {setting}"}[kind]
            where = "GPU" if gpu and kind != "hnsw" else "CPU"
            rows.append({"method": f"faiss {kind} ({where})", "params": label, "recall@10": recall_at(found.pop("found"), truth),
                         "build_s": build, "memory_mb": memory, **found})
        print(f"{kind}: built in {build:.1f} s", file=sys.stderr)

    columns = ["method", "params", "recall@10", "qps_batch1", "p50_ms_batch1", "p99_ms_batch1", "qps_batch256",
               "p50_ms_batch256", "p99_ms_batch256", "build_s", "memory_mb"]
    print(tabulate([[r[c] for c in columns] for r in rows], headers=columns, tablefmt="github", floatfmt=".3g"))
    if args.json:
        atomic_write_json(args.json, {"args": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
