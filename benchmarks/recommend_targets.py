"""Serving targets of a trained run: load time, --all-users throughput, one-history latency.

    python benchmarks/recommend_targets.py runs/<MISSRec run on ML100K_mm_full>          # CPU, 1 thread
    python benchmarks/recommend_targets.py RUN --device cuda --threads 8

Targets (issue "Recommend", CPU, 1 thread, MISSRec on ML100K_mm_full): top-10 for all 943 users >= 2,000 users/s
(the ``recommend.py --all-users`` loop: streaming, history excluded, TSV rows formatted); one history's top 10
p99 <= 30 ms after loading. Load time is reported per stage: imports, dataset (RecBole + catalogue), model
(build + weights), heads (precomputed item tables). Repeated passes report the best and the median, in wall-clock
time and in this process's CPU time (what a dedicated core would take; the two differ on a shared machine).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

t_start = time.perf_counter()
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from missrec.recommend import Recommender, render  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - t_start


def all_users_pass(rec: Recommender, users: list[str], k: int, batch_size: int) -> tuple[float, float]:
    """``(wall, CPU)`` seconds for top-k of every user, written as TSV rows to memory (what --all-users does, minus
    the disk). On a shared machine the CPU time is what the pass costs one dedicated core."""
    out = io.StringIO()
    t0, c0 = time.perf_counter(), time.process_time()
    for user, recs in rec.recommend_many(users=users, k=k, batch_size=batch_size):
        out.write(render.tsv_rows(user, recs))
    return time.perf_counter() - t0, time.process_time() - c0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", help="run folder (MISSRec on ML100K_mm_full for the targets)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--passes", type=int, default=5, help="--all-users passes")
    parser.add_argument("--latency-queries", type=int, default=500, help="single histories timed")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]

    t0 = time.perf_counter()
    rec = Recommender.from_run(args.run, device=args.device)
    load = time.perf_counter() - t0
    stages = {**rec.load_seconds, "heads": load - sum(rec.load_seconds.values())}
    users = rec.all_users()

    all_users_pass(rec, users, args.k, args.batch_size)  # warm-up
    timings = [all_users_pass(rec, users, args.k, args.batch_size) for _ in range(args.passes)]
    passes, cpu = [t[0] for t in timings], [t[1] for t in timings]

    rng = np.random.default_rng(0)
    histories = [rec.user_history(users[i])[-rec.max_len :] for i in rng.integers(len(users), size=args.latency_queries)]
    for history in histories[:20]:  # warm-up
        rec.recommend(history, k=args.k)
    latencies, cpu_latencies = [], []
    for history in histories:
        t1, c1 = time.perf_counter(), time.process_time()
        rec.recommend(history, k=args.k)
        latencies.append(time.perf_counter() - t1)
        cpu_latencies.append(time.process_time() - c1)
    ms, cpu_ms = np.asarray(latencies) * 1000, np.asarray(cpu_latencies) * 1000

    rows = [
        ["model", f"{rec.model_name} on {rec.loaded.config['dataset']} ({len(users)} users, {len(rec.catalogue) - 1} items)"],
        ["device / threads", f"{args.device} / {args.threads}"],
        ["machine load (1-min average, start / end)", f"{load_before:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"],
        ["imports (s)", f"{IMPORT_SECONDS:.2f}"],
        ["load: from_run total (s)", f"{load:.2f} (dataset {stages['dataset']:.2f}, model {stages['model']:.2f}, heads {stages['heads']:.2f})"],
        [f"--all-users top-{args.k}: users/s, best / median of {args.passes}",
         f"{len(users) / min(passes):,.0f} / {len(users) / statistics.median(passes):,.0f}"],
        [f"--all-users top-{args.k}: users per CPU second, best / median", f"{len(users) / min(cpu):,.0f} / {len(users) / statistics.median(cpu):,.0f}"],
        [f"one history top-{args.k}: p50 / p99 / max ms ({len(ms)} histories)",
         f"{np.percentile(ms, 50):.1f} / {np.percentile(ms, 99):.1f} / {ms.max():.1f}"],
        ["one history: CPU ms p50 / p99", f"{np.percentile(cpu_ms, 50):.1f} / {np.percentile(cpu_ms, 99):.1f}"],
    ]
    width = max(len(r[0]) for r in rows)
    print("\n".join(f"{name:<{width}}  {value}" for name, value in rows))


if __name__ == "__main__":
    main()
