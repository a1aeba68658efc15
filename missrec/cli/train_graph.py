"""``python train_graph.py``: train a general (graph) recommender and report its test metrics."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from missrec.cli.common import add_run_options, parse_run_args, run_reporting_errors
from missrec.config import parse_overrides
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
    add_run_options(parser, DEFAULT_DATASET, "run folder (default: runs/<model>-<dataset>-<time>)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_run_args(build_parser(), argv)
    return run_reporting_errors(lambda: run_general(
        model=args.model,
        dataset=args.dataset,
        device=args.device,
        epochs=args.epochs,
        output_dir=args.output,
        overrides=parse_overrides(args.overrides),
        props=args.props,
        overwrite=args.overwrite,
        resume=args.resume,
    ))
