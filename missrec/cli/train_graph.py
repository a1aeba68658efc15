"""``python train_graph.py``: train a general (graph) recommender and report its test metrics."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from missrec.config import parse_overrides
from missrec.errors import MissrecError
from missrec.runner_general import DEFAULT_DATASET, general_models, run_general


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train_graph.py",
        description="Train a general (user-item graph) recommender with full-ranking evaluation: selects on the "
        "validation split, reports test at the best validation epoch; prints the valid/test metrics table and writes "
        "results.json, curves.png, TensorBoard scalars and the best checkpoint to the output folder.",
        epilog="examples:\n  python train_graph.py --model LightGCN\n"
        "  python train_graph.py --model FREEDOM --epochs 50 dropout=0.9\n"
        "  python train_graph.py --model LATTICE -d baby --device cuda legacy_hit_normalised_ndcg=true",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", default="LightGCN", choices=general_models(), help="model (default: %(default)s)")
    parser.add_argument("-d", "--dataset", default=DEFAULT_DATASET, help="dataset folder under data_path (default: %(default)s, the embedded MovieLens-100K)")
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    parser.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: from the props)")
    parser.add_argument("--output", default=None, help="run folder (default: runs/<model>-<dataset>-<time>)")
    parser.add_argument("--props", nargs="*", default=[], help="extra props yaml files, applied after the defaults")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. reg_weight=0.001 topk=[10,20,50]")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run_general(
            model=args.model,
            dataset=args.dataset,
            device=args.device,
            epochs=args.epochs,
            output_dir=args.output,
            overrides=parse_overrides(args.overrides),
            props=args.props,
        )
    except MissrecError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
