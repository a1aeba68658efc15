"""Finished rows kept by their summary when their run folders are gone, and pooling summaries of runs exactly.

    python scripts/archive.py ml100k --made-from "results/ml100k.json of commit d63f2a7"
    python scripts/archive.py mllatest --made-from "..." --row-seeds MISSRec-transductive-scratch=2020,2021
    python scripts/archive.py grid/BPR-ML100K_general --made-from "..."   # a grid summary (results/grid/)

A table's rows are averaged from their runs' ``results.json``. When those folders are lost (a new machine, a clean
checkout) the table's own summary still holds, per row, the number of seeds, the mean and the sample standard
deviation of every metric: enough to pool them exactly with runs that land later (the pooled mean and sample
variance of groups are those of all their values together). ``results/archive/<table>.json`` keeps those rows, each
with the seeds it covers and the configuration its runs were checked against when the summary was written, so a
later change of the props still marks them stale. ``reproduce.py`` counts an archived seed as done and pools it.

Build the archive from a summary written by the code as it is now (its stale-run check passed against today's
configuration): the configuration stored for each row is the one its command builds today.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

from missrec.checkpoint import checkpoint_paths, read_card
from missrec.io_utils import atomic_write_json

ARCHIVE_DIR = "archive"
STATS = ("best_epoch", "epochs_run", "seconds_per_epoch")  # [mean, std] or None, beside the metric dicts
METRIC_GROUPS = ("test", "test_new_items")


def pooled_mean_std(parts: list[tuple[int, float, float]]) -> tuple[float, float]:
    """Mean and sample standard deviation of the union of groups given as ``(n, mean, sample std)``: those of the
    values themselves (``std`` 0 for a single value), computed in exact fractions so that equal values pool to a
    spread of exactly 0. One group is returned as it is."""
    if len(parts) == 1:
        _, mean, std = parts[0]
        return mean, std
    exact = [(n, Fraction(m), Fraction(s)) for n, m, s in parts]
    total = sum(n for n, _, _ in exact)
    mean = sum(n * m for n, m, _ in exact) / total
    squares = sum((n - 1) * s * s + n * (m - mean) ** 2 for n, m, s in exact)
    return float(mean), math.sqrt(squares / (total - 1)) if total > 1 else 0.0


def run_as_group(result: dict[str, Any], hardware: str, valid_metric: str | None = None) -> dict[str, Any]:
    """One run's ``results.json`` as a summary of one seed: every value with a spread of 0 (and its best validation
    ``valid_metric`` as ``valid``, for a grid)."""
    trained = bool(result["history"])  # zero-shot runs train no epoch
    seconds = statistics.mean(h["train_seconds"] for h in result["history"]) if trained else None
    group: dict[str, Any] = {
        "n": 1,
        "test": {m: [v, 0.0] for m, v in result["test"].items()},
        "best_epoch": [result["best_epoch"], 0.0] if trained else None,
        "epochs_run": [result["epochs_run"], 0.0],
        "seconds_per_epoch": [seconds, 0.0] if trained else None,
        "hardware": [hardware],
    }
    if valid_metric:
        group["valid"] = [result["valid"][valid_metric], 0.0]
    if result.get("test_new_items"):
        group["test_new_items"] = {m: [v, 0.0] for m, v in result["test_new_items"].items()}
        group["test_new_items_rows"] = result.get("test_subset_rows", {}).get("test_new_items")
    return group


def pool_groups(groups: list[dict[str, Any]]) -> dict[str, Any]:
    """Pool summaries of seeds (``run_as_group``'s shape, or an archived row's): every metric all groups have, the
    new-items metrics where every group has them, the epoch statistics (``None`` where a group has none)."""
    pooled: dict[str, Any] = {"hardware": sorted({h for g in groups for h in g["hardware"]})}
    for key in METRIC_GROUPS:
        if not all(g.get(key) for g in groups):
            continue
        metrics = sorted(set.intersection(*(set(g[key]) for g in groups)))
        pooled[key] = {m: pooled_mean_std([(g["n"], *g[key][m]) for g in groups]) for m in metrics}
        if key == "test_new_items":
            pooled["test_new_items_rows"] = next((g.get("test_new_items_rows") for g in groups), None)
    if all("valid" in g for g in groups):
        pooled["valid"] = pooled_mean_std([(g["n"], *g["valid"]) for g in groups])
    for key in STATS:
        parts = [g.get(key) for g in groups]
        pooled[key] = None if any(p is None for p in parts) else pooled_mean_std(
            [(g["n"], *p) for g, p in zip(groups, parts, strict=True)]
        )
    return pooled


def archive_path(out: Path, table: str) -> Path:
    return out / ARCHIVE_DIR / f"{table}.json"


def load_archive(out: Path, table: str) -> dict[str, dict[str, Any]]:
    """The archived rows of ``table`` (``{}`` without an archive): ``{row: {"seeds", "setup", "summary"}}``."""
    path = archive_path(out, table)
    return json.loads(path.read_text())["rows"] if path.is_file() else {}


def archive_rows(reproduce, out: Path, table: str, row_seeds: dict[str, list[int]]) -> dict[str, dict[str, Any]]:
    """The finished rows of ``<out>/<table>.json`` as archive entries: seeds (from ``row_seeds`` where given, all
    the asked seeds for a complete row), the setup its command builds today, and its summary."""
    summary = json.loads((out / f"{table}.json").read_text())
    rows = {row.name: row for row in reproduce.table_rows(table)}
    asked = reproduce.summary_seeds(summary)
    archived = {}
    for name, entry in summary["rows"].items():
        if "test" not in entry:
            continue
        seeds = row_seeds.get(name) or (asked if entry["seeds_done"] == entry["seeds_asked"] else None)
        if seeds is None or len(seeds) != entry["seeds_done"]:
            raise SystemExit(f"{name}: {entry['seeds_done']} of {entry['seeds_asked']} seeds finished; name them "
                             f"with --row-seeds {name}=S1,S2")
        config, _ = reproduce.row_config(rows[name])
        setup = {k: v for k, v in config.items() if k not in reproduce.PER_RUN_KEYS}
        checkpoint = reproduce.row_checkpoint(rows[name])
        # as a run records it (results.json's pretrained_sha256): the digest on the checkpoint's card
        setup["pretrained_sha256"] = (read_card(checkpoint_paths(reproduce.ROOT / checkpoint)[1])["sha256"]
                                      if checkpoint else None)
        kept = {k: entry.get(k) for k in (*METRIC_GROUPS, "test_new_items_rows", *STATS, "hardware") if k in entry}
        archived[name] = {"seeds": seeds, "setup": setup, "summary": {"n": len(seeds), **kept}}
    return archived


def archive_grid_settings(grid, out: Path, name: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """The finished settings of the grid summary ``<out>/grid/<name>.json`` as archive entries of its runs' table
    (``grid/<model>-<dataset>[/<fixed>]``): each with the summary's seeds, the setup its run builds today, and its
    validation and test statistics. Returns ``(table, entries)``."""
    summary = json.loads((out / "grid" / f"{name}.json").read_text())
    table, seeds = summary["table"], summary["seeds"]
    archived = {}
    for row, (setting_name, entry) in zip(grid.summary_rows(summary), summary["settings"].items(), strict=True):
        if "valid" not in entry:
            continue
        if entry["seeds_done"] != len(seeds):
            raise SystemExit(f"{setting_name}: {entry['seeds_done']} of {len(seeds)} seeds finished; an archived "
                             "setting holds all the summary's seeds")
        config, _ = grid.reproduce.row_config(row)
        setup = {k: v for k, v in config.items() if k not in grid.reproduce.PER_RUN_KEYS}
        setup["pretrained_sha256"] = None
        kept = {k: entry[k] for k in ("valid", "test", "best_epoch", "epochs_run", "hardware")}
        archived[row.name] = {"seeds": seeds, "setup": setup, "summary": {"n": len(seeds), **kept}}
    return table, archived


def _load_script(name: str):
    """``scripts/<name>.py`` as a module (registered, so its dataclasses find it)."""
    import importlib.util

    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _load_grid():
    return _load_script("grid")


def _load_reproduce():
    return _load_script("reproduce")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", help="ml100k, mllatest, graph, or grid/<name> (the summary results/grid/<name>.json)")
    parser.add_argument("--made-from", required=True, help="where the summary comes from (kept in the archive)")
    parser.add_argument("--row-seeds", nargs="*", default=[], metavar="ROW=S1,S2",
                        help="the seeds of a row with fewer seeds than asked")
    parser.add_argument("--out", default="results", help="results folder (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.table not in ("ml100k", "mllatest", "graph") and not args.table.startswith("grid/"):
        parser.error(f"table: expected ml100k, mllatest, graph or grid/<name>, found {args.table!r}")
    reproduce = _load_reproduce()
    out = reproduce.ROOT / args.out
    grid_name = args.table.split("/", 1)[1] if args.table.startswith("grid/") else None
    table = json.loads((out / "grid" / f"{grid_name}.json").read_text())["table"] if grid_name else args.table
    path = archive_path(out, table)
    if path.exists():
        parser.error(f"{path} exists: an archive is made once, from a summary whose run folders are gone")
    if grid_name:
        _, rows = archive_grid_settings(_load_grid(), out, grid_name)
    else:
        row_seeds = {}
        for item in args.row_seeds:
            name, _, seeds = item.partition("=")
            row_seeds[name] = [int(s) for s in seeds.split(",") if s]
        rows = archive_rows(reproduce, out, table, row_seeds)
    atomic_write_json(path, {"table": table, "made_from": args.made_from, "rows": rows})
    print(f"{path}: {len(rows)} rows, {sum(len(r['seeds']) for r in rows.values())} seeds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
