"""Run the whole table, each case in a forked process with a time limit, and count the outcomes.

``python -m tests.reliability.survey [--json FILE] [--only ID ...]``: one line per case, then the counts per
outcome (clear, clear-other, late, refused, traceback, silent, hang). Run it from a checkout of an older commit (with
this folder copied in) to get the "before" column: ``baseline.json`` holds it for commit 269ec9c, the last one
before these cases were fixed.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

from tests.reliability.harness import OUTCOMES, execute_forked
from tests.reliability.table import CASES
from tests.reliability.world import build_world


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", default=None, help="write {case id: outcome} here")
    parser.add_argument("--only", nargs="*", default=None, help="case ids to run")
    parser.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    root = Path(tempfile.mkdtemp(prefix="reliability_"))
    t0 = time.perf_counter()
    world = build_world(root / "world")
    print(f"world built in {time.perf_counter() - t0:.1f}s", flush=True)
    results = {}
    for case in CASES:
        if args.only and case.id not in args.only:
            continue
        outcome = execute_forked(case, root / "cases" / case.id, world, args.timeout)
        results[case.id] = {"status": outcome.status, "detail": outcome.detail, "kind": case.kind,
                            "area": case.area, "seconds": round(outcome.seconds, 2),
                            "stderr": outcome.stderr.strip().splitlines()[-1][:300] if outcome.stderr.strip() else ""}
        print(f"{outcome.status:9s} {case.id:45s} {outcome.seconds:5.1f}s {outcome.detail[:110]}", flush=True)
    counts = collections.Counter(r["status"] for r in results.values())
    print("counts: " + ", ".join(f"{k} {counts.get(k, 0)}" for k in OUTCOMES) + f" (of {len(results)})")
    print(f"total {time.perf_counter() - t0:.1f}s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
