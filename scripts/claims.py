"""The papers' claims checked against the tables of ``scripts/reproduce.py``, each with its margin in standard deviations.

    python scripts/claims.py                  # reads results/{ml100k,mllatest,graph}.json, writes results/claims.md

A claim "A ≥ B" on a metric compares the mean over seeds of two rows: Δ = mean_A − mean_B, in units of the pooled
standard deviation σ = sqrt((s_A² + s_B²) / 2) of the two rows' seeds, with Welch's t = Δ / sqrt(s_A²/n_A + s_B²/n_B)
beside it. Verdict: **holds** when Δ ≥ 2σ, **reversed** when Δ ≤ −2σ, else **not separated** (the sign is still
given). Each claim is judged on the table's selection metric (NDCG@10 sequential, Recall@20 graph) and the line says
on how many of the other test metrics A is above B. Beside the papers' claims, every sequential row is compared
with Pop, the most-popular baseline: a trained model below it is a red flag, a zero-shot row above it shows what the
pre-training carries.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from missrec.io_utils import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
SEQUENTIAL_TABLES = ("ml100k", "mllatest")
MULTIMODAL_GRAPH_MODELS = ("VBPR", "GRCN", "LATTICE", "MICRO", "FREEDOM", "BM3", "MMSSL", "SEA", "SGFD-BM3", "SGFD-GRCN")
POP_ROW = "Pop-transductive-scratch"  # the most-popular baseline of the sequential tables
SEPARATION = 2.0  # |Δ| in pooled standard deviations needed to call a claim held or reversed


@dataclass(frozen=True)
class Comparison:
    """One claim "a ≥ b" judged on one metric, with the other metrics' signs."""

    claim: str
    table: str
    a: str
    b: str
    metric: str
    delta: float
    sigma: float
    welch_t: float
    seeds: tuple[int, int]
    metrics_above: tuple[int, int]  # (metrics where a > b, metrics compared)
    other_margins: tuple[tuple[str, float], ...] = ()  # (metric, Δ/σ) for the metrics not judged

    @property
    def margin(self) -> float:
        """Δ in pooled standard deviations (±inf when both rows have zero spread)."""
        return _ratio(self.delta, self.sigma)

    @property
    def verdict(self) -> str:
        if min(self.seeds) < 2:
            return "n/a (one seed)"
        if self.margin >= SEPARATION:
            return "holds"
        if self.margin <= -SEPARATION:
            return "reversed"
        return "not separated"


def compare(claim: str, table: str, a: str, b: str, stats_a: dict, stats_b: dict, metric: str, seeds: tuple[int, int]):
    """Compare two rows' ``{metric: (mean, std)}``; ``None`` when the metric is missing from either."""
    if metric not in stats_a or metric not in stats_b:
        return None
    (mean_a, std_a), (mean_b, std_b) = stats_a[metric], stats_b[metric]
    delta = mean_a - mean_b
    sigma = _pooled_std(std_a, std_b)
    se = math.sqrt(std_a**2 / max(seeds[0], 1) + std_b**2 / max(seeds[1], 1))
    welch = _ratio(delta, se)
    shared = sorted(set(stats_a) & set(stats_b))
    above = sum(stats_a[m][0] > stats_b[m][0] for m in shared)
    others = tuple((m, _margin(stats_a[m], stats_b[m])) for m in shared if m != metric)
    return Comparison(claim, table, a, b, metric, delta, sigma, welch, seeds, (above, len(shared)), others)


def _ratio(delta: float, scale: float) -> float:
    """``delta / scale``; 0 or ±inf when the scale is 0 (rows without spread)."""
    if scale > 0:
        return delta / scale
    return 0.0 if delta == 0 else math.copysign(math.inf, delta)


def _pooled_std(std_a: float, std_b: float) -> float:
    return math.sqrt((std_a**2 + std_b**2) / 2)


def _margin(a: tuple[float, float], b: tuple[float, float]) -> float:
    """``mean_a - mean_b`` in pooled standard deviations, for ``(mean, std)`` pairs."""
    return _ratio(a[0] - b[0], _pooled_std(a[1], b[1]))


def _pairs_sequential(rows: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(claim, row a, row b, which test block) for one sequential table, over the rows it has."""
    pairs = []
    for setting in ("transductive", "inductive"):
        for init in ("scratch", "pre-trained"):
            pairs.append(("MISSRec ≥ UniSRec", f"MISSRec-{setting}-{init}", f"UniSRec-{setting}-{init}", "test"))
    for model in ("UniSRec", "MISSRec"):
        for init in ("scratch", "pre-trained"):
            pairs.append((f"{model} ≥ SASRec", f"{model}-transductive-{init}", "SASRec-transductive-scratch", "test"))
    for setting in ("transductive", "inductive"):
        for model in ("MISSRec", "UniSRec"):
            pair = (f"{model}-{setting}-pre-trained", f"{model}-{setting}-scratch")
            pairs.append((f"pre-training helps ({setting})", *pair, "test"))
            pairs.append((f"pre-training helps on new items ({setting})", *pair, "test_new_items"))
    pair = ("MISSRec-transductive-pre-trained-unfrozen", "MISSRec-transductive-scratch")  # is freezing the cause?
    pairs.append(("pre-training helps (transductive, transformer fine-tuned too)", *pair, "test"))
    pairs.append(("pre-training helps on new items (transductive, transformer fine-tuned too)", *pair, "test_new_items"))
    for name in rows:  # not the papers': every row should clear the floor, zero-shot rows say what transfers
        if name != POP_ROW:
            pairs.append(("above Pop (sanity floor)", name, POP_ROW, "test"))
            pairs.append(("above Pop on new items (sanity floor)", name, POP_ROW, "test_new_items"))
    return [p for p in pairs if p[1] in rows and p[2] in rows]


def _pairs_graph(rows: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    pairs = []
    datasets = sorted({r["dataset"] for r in rows.values() if "dataset" in r})
    for dataset in datasets:
        for baseline in ("LightGCN", "BPR"):
            for model in MULTIMODAL_GRAPH_MODELS:
                pairs.append((f"multimodal ≥ {baseline} ({dataset})", f"{model}-{dataset}", f"{baseline}-{dataset}", "test"))
    return [p for p in pairs if p[1] in rows and p[2] in rows]


def table_claims(summary: dict[str, Any]) -> list[Comparison]:
    """Every claim the table's finished rows can judge."""
    rows = summary["rows"]
    graph = summary["table"] == "graph"
    metric = "recall@20" if graph else "ndcg@10"
    out = []
    for claim, a, b, block in (_pairs_graph if graph else _pairs_sequential)(rows):
        ra, rb = rows[a], rows[b]
        if block not in ra or block not in rb:
            continue
        found = compare(claim, summary["table"], a, b, ra[block], rb[block], metric, (ra["seeds_done"], rb["seeds_done"]))
        if found is not None:
            out.append(found)
    return out


def _signed(x: float, digits: int = 1) -> str:
    return f"{x:+.{digits}f}" if math.isfinite(x) else ("+∞" if x > 0 else "−∞")


def markdown(comparisons: list[Comparison]) -> str:
    """One line per comparison, grouped by claim, with a per-claim tally."""
    lines = [
        "# The papers' claims (and the popularity floor) against the converged tables",
        "",
        f"Δ in pooled standard deviations over seeds; holds when Δ ≥ {SEPARATION:g}σ, reversed when Δ ≤ −{SEPARATION:g}σ "
        "(±∞: neither row varies over its seeds, e.g. Pop and UniSRec zero-shot, so any difference is exact).",
        "",
        "| table | claim | A | B | metric | A − B | Δ/σ | Welch t | seeds | A above on | verdict | Δ/σ on the other metrics |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in comparisons:
        lines.append(
            f"| {c.table} | {c.claim} | {c.a} | {c.b} | {c.metric} | {c.delta:+.4f} | {_signed(c.margin)} | "
            f"{_signed(c.welch_t)} | {c.seeds[0]}/{c.seeds[1]} | {c.metrics_above[0]}/{c.metrics_above[1]} | "
            f"{c.verdict} | {', '.join(f'{m} {_signed(x)}' for m, x in c.other_margins)} |"
        )
    lines += ["", "Tally per claim (holds / not separated / reversed / not judged: one seed):", ""]
    tally: dict[tuple[str, str], list[int]] = {}
    for c in comparisons:
        counts = tally.setdefault((c.table, c.claim), [0, 0, 0, 0])
        index = {"holds": 0, "not separated": 1, "reversed": 2}.get(c.verdict, 3)
        counts[index] += 1
    for (table, claim), (held, unclear, reversed_, unjudged) in tally.items():
        lines.append(f"- {table}, {claim}: {held} / {unclear} / {reversed_} / {unjudged}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default="results", help="folder of reproduce.py's tables (default: %(default)s)")
    args = parser.parse_args(argv)
    folder = ROOT / args.results
    comparisons: list[Comparison] = []
    found = []
    for table in (*SEQUENTIAL_TABLES, "graph"):
        path = folder / f"{table}.json"
        if path.is_file():
            found.append(table)
            comparisons += table_claims(json.loads(path.read_text()))
    if not found:
        parser.error(f"no tables in {folder}: run `python scripts/reproduce.py ml100k` (or mllatest, graph) first")
    text = markdown(comparisons)
    atomic_write_text(folder / "claims.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
