"""``accelerate launch ddp_pretrain.py``: contrastive multi-domain pre-training (see --help)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from missrec.cli.common import add_run_options, parse_run_args, run_reporting_errors
from missrec.config import parse_overrides
from missrec.runner_pretrain import DEFAULT_CORPUS, run_pretrain


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ddp_pretrain.py",
        description="Pre-train MISSRec (or UniSRec) contrastively on a multi-domain corpus, data-parallel with "
        "Accelerate. Writes <model>-<corpus>-<epoch>.safetensors (+ .json) every save_step epochs.",
        epilog="launch:\n  accelerate launch ddp_pretrain.py -d FHCKM_mm_full            # all GPUs of this machine\n"
        "  ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 ddp_pretrain.py --epochs 1\n"
        "  python ddp_pretrain.py --cpu                                   # one process",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_options(parser, DEFAULT_CORPUS, "run folder: resumable state, log, TensorBoard (default: runs/pretrain-<model>-<corpus>)", device=False)
    parser.add_argument("--model", default="MISSRec", help="model with a pre-training objective (default: %(default)s)")
    parser.add_argument("--checkpoint-dir", default=None, help="where checkpoints go (default: saved/)")
    parser.add_argument("--cpu", action="store_true", help="run on CPU even when a GPU is present")
    parser.add_argument("--local-negatives", action="store_true", help="keep in-batch negatives per process (gather_negatives=false)")
    parser.add_argument("--mask-same-target", action="store_true", help="exclude in-batch candidates with the anchor's target item")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_run_args(build_parser(), argv)

    def run() -> None:
        overrides = parse_overrides(args.overrides)
        if args.local_negatives:
            overrides["gather_negatives"] = False
        if args.mask_same_target:
            overrides["mask_same_target"] = True
        run_pretrain(model=args.model, dataset=args.dataset, epochs=args.epochs, output_dir=args.output,
                     checkpoint_dir=args.checkpoint_dir, overrides=overrides, props=args.props, resume=args.resume,
                     cpu=args.cpu, overwrite=args.overwrite)

    return run_reporting_errors(run)
