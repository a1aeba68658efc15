"""The Amazon pipeline at the size of a large category: ``build`` wall time, peak RSS and reviews/s against a plain
``json.loads`` loop over the same file, the output against the plain in-memory reference on a sampled subset, and
``features`` throughput (MiniLM texts/s).

    OMP_NUM_THREADS=2 python benchmarks/amazon_pipeline.py --workdir /tmp/amazon_bench          # 10M reviews, 1M meta
    python benchmarks/amazon_pipeline.py --workdir /tmp/amazon_bench --steps features --features-device cuda

The raw files come from ``benchmarks/amazon_raw_generator.py`` (written into ``--workdir``, reused when present).
Every measurement runs in a fresh child process whose own peak RSS is read with ``os.wait4``:

* ``json.loads``: the baseline, a bare loop that parses every review line and keeps nothing;
* ``read``: the pipeline's reader (:func:`~missrec.data.prepare.amazon.raw.read_interaction_table`), parse + columns;
* ``build``: ``python -m missrec.data.prepare.amazon build`` on the whole category, as a user runs it;
* ``sample`` / ``sample reference``: the build of the reviews of a random ``--sample-users`` share of the users
  (whole histories), with the column processing and with the plain in-memory reference; their folders must be
  byte-identical (checked here, and for small random categories in tests/data/prepare/test_amazon_stream.py);
* ``features``: MiniLM on ``--features-texts`` item texts of the built folder; texts/s and the implied time for
  every item.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from amazon_raw_generator import generate  # noqa: E402

STEPS = ("json", "read", "build", "sample", "features")


def child_json(reviews: str) -> dict:
    t0 = time.perf_counter()
    n = 0
    with open(reviews, encoding="utf-8") as f:
        for line in f:
            json.loads(line)
            n += 1
    return {"seconds": time.perf_counter() - t0, "records": n}


def child_read(reviews: str) -> dict:
    from missrec.data.prepare.amazon.raw import read_interaction_table

    t0 = time.perf_counter()
    table = read_interaction_table(reviews, desc="")
    return {"seconds": time.perf_counter() - t0, "records": len(table), "users": len(table.users),
            "items": len(table.items)}


def child_build(reviews: str, meta: str, out: str, reference: str) -> dict:
    from missrec.data.prepare.amazon.build import build_category

    t0 = time.perf_counter()
    stats = build_category(reviews, meta, out, show_progress=False, reference_processing=reference == "1")
    return {"seconds": time.perf_counter() - t0, "stats": stats}


def child_features(folder: str, n_texts: str, device: str) -> dict:
    from missrec.data.prepare.amazon.folder import BenchmarkFolder
    from missrec.encoders import get_text_encoder

    bench = BenchmarkFolder(folder)
    item_ids = bench.item_ids()
    texts = bench.texts(item_ids)[: int(n_texts)]
    encoder = get_text_encoder("minilm", device=None if device == "auto" else device)
    encoder.encode(texts[:64], batch_size=64, show_progress=False)  # warm-up
    t0 = time.perf_counter()
    encoder.encode(texts, batch_size=64, show_progress=False)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "texts": len(texts), "items": len(item_ids)}


CHILDREN = {"json": child_json, "read": child_read, "build": child_build, "features": child_features}


def run_child(kind: str, *args: str, log: Path) -> tuple[dict, float, float]:
    """Run one measurement in a fresh process; returns (its result, wall seconds, its own peak RSS in GB)."""
    out_file = log.with_suffix(".json")
    with open(log, "w") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, __file__, "--child", kind, str(out_file), *args], cwd=REPO,
                                stdout=err, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{kind} failed (rc {proc.returncode}); see {log}")
    return json.loads(out_file.read_text()), wall, usage.ru_maxrss / 2**20


def sample_users(reviews: Path, out: Path, share: float, seed: int = 0) -> int:
    """Write the reviews of a random ``share`` of the users (whole histories) to ``out``; returns the line count."""
    import zlib

    threshold = int(share * 2**32)
    n = 0
    with open(reviews, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as g:
        for line in f:
            user = line.split('"reviewerID": "', 1)[1].split('"', 1)[0]
            if zlib.crc32(f"{seed}:{user}".encode()) < threshold:
                g.write(line)
                n += 1
    return n


def same_folders(a: Path, b: Path) -> list[str]:
    """Names of the files that differ between two folders (empty: byte-identical)."""
    names = sorted({p.name for p in a.iterdir()} | {p.name for p in b.iterdir()})
    return [n for n in names if not ((a / n).is_file() and (b / n).is_file()
                                     and (a / n).read_bytes() == (b / n).read_bytes())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/missrec_amazon_bench"),
                        help="raw files, outputs and logs (outside the repository)")
    parser.add_argument("--reviews", type=int, default=10_000_000)
    parser.add_argument("--meta", type=int, default=1_000_000)
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    parser.add_argument("--sample-users", type=float, default=0.05, help="share of users in the reference subset")
    parser.add_argument("--features-texts", type=int, default=2048, help="texts encoded by the features step")
    parser.add_argument("--features-device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, out_file, *rest = args.child
        Path(out_file).write_text(json.dumps(CHILDREN[kind](*rest)))
        return

    work = args.workdir
    t0 = time.perf_counter()
    reviews, meta = generate(work / "raw", args.reviews, args.meta)
    print(f"raw files: {reviews} ({reviews.stat().st_size / 2**30:.2f} GB), {meta} ({meta.stat().st_size / 2**30:.2f} "
          f"GB); ready in {time.perf_counter() - t0:.0f} s; threads {os.environ.get('OMP_NUM_THREADS', 'default')}")
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    folder = work / "out" / "Big_mm_full"
    print("| step | input | wall s | records/s | peak RSS GB | notes |")
    print("|---|---|---|---|---|---|")
    base = None
    if "json" in args.steps:
        r, wall, peak = run_child("json", str(reviews), log=logs / "json.log")
        base = r["records"] / r["seconds"]
        print(f"| json.loads loop | {r['records']:,} review lines | {r['seconds']:.0f} | {base:,.0f} | {peak:.2f} | "
              "parse only, nothing kept |", flush=True)
    if "read" in args.steps:
        r, wall, peak = run_child("read", str(reviews), log=logs / "read.log")
        rate = r["records"] / r["seconds"]
        ratio = f"{rate / base:.2f}x json.loads; " if base else ""
        print(f"| read into columns | {r['records']:,} review lines | {r['seconds']:.0f} | {rate:,.0f} | {peak:.2f} | "
              f"{ratio}{r['users']:,} users, {r['items']:,} items |", flush=True)
    if "build" in args.steps:
        r, wall, peak = run_child("build", str(reviews), str(meta), str(folder), "0", log=logs / "build.log")
        s = r["stats"]
        ratio = f"{s['records_read'] / wall / base:.2f}x json.loads; " if base else ""
        print(f"| build (whole command) | {s['records_read']:,} reviews + {args.meta:,} metadata lines | {wall:.0f} | "
              f"{s['records_read'] / wall:,.0f} | {peak:.2f} | {ratio}{s['duplicate_records']:,} duplicates, "
              f"{s['without_metadata']['interactions']:,} without metadata, {s['kcore_passes']} k-core passes -> "
              f"{s['users']:,} users, {s['items']:,} items, {s['interactions']:,} interactions |", flush=True)
    if "sample" in args.steps:
        subset = work / "raw" / f"sample_{args.sample_users}.json"
        n = sample_users(reviews, subset, args.sample_users)
        outs = {}
        for ref in ("0", "1"):
            outs[ref] = work / f"sample_{ref}" / "Sample_mm_full"
            r, wall, peak = run_child("build", str(subset), str(meta), str(outs[ref]), ref, log=logs / f"sample{ref}.log")
            name = "sample, reference (sets of tuples)" if ref == "1" else "sample, columns"
            print(f"| {name} | {n:,} reviews ({args.sample_users:.0%} of users) | {wall:.0f} | {n / wall:,.0f} | "
                  f"{peak:.2f} | {r['stats']['interactions']:,} interactions kept |", flush=True)
        differ = same_folders(outs["0"], outs["1"])
        print(f"\nsample output identical to the reference: {'yes' if not differ else 'NO, differ: ' + str(differ)}")
    if "features" in args.steps:
        r, wall, peak = run_child("features", str(folder), str(args.features_texts), args.features_device,
                                  log=logs / "features.log")
        rate = r["texts"] / r["seconds"]
        print(f"\nfeatures (MiniLM, {args.features_device}): {r['texts']:,} texts in {r['seconds']:.1f} s = {rate:,.0f} "
              f"texts/s, peak RSS {peak:.2f} GB; all {r['items']:,} items of the build: {r['items'] / rate / 60:.1f} min")


if __name__ == "__main__":
    main()
