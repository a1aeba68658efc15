"""``accelerate launch ddp_pretrain.py``: contrastive multi-domain pre-training (see --help)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from missrec.config import parse_overrides
from missrec.errors import MissrecError
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
    parser.add_argument("-d", "--dataset", default=DEFAULT_CORPUS, help="corpus folder under data_path (default: %(default)s)")
    parser.add_argument("--model", default="MISSRec", help="model with a pre-training objective (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=None, help="pre-training epochs (default: pretrain_epochs in the props)")
    parser.add_argument("--output", default=None, help="run folder: resumable state, log, TensorBoard (default: runs/pretrain-<model>-<corpus>)")
    parser.add_argument("--checkpoint-dir", default=None, help="where checkpoints go (default: saved/)")
    parser.add_argument("--resume", action="store_true", help="continue from the state saved in --output")
    parser.add_argument("--cpu", action="store_true", help="run on CPU even when a GPU is present")
    parser.add_argument("--local-negatives", action="store_true", help="keep in-batch negatives per process (gather_negatives=false)")
    parser.add_argument("--mask-same-target", action="store_true", help="exclude in-batch candidates with the anchor's target item")
    parser.add_argument("--props", nargs="*", default=[], help="extra props yaml files")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. train_batch_size=1024")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        overrides = parse_overrides(args.overrides)
        if args.local_negatives:
            overrides["gather_negatives"] = False
        if args.mask_same_target:
            overrides["mask_same_target"] = True
        run_pretrain(model=args.model, dataset=args.dataset, epochs=args.epochs, output_dir=args.output,
                     checkpoint_dir=args.checkpoint_dir, overrides=overrides, props=args.props, resume=args.resume,
                     cpu=args.cpu)
    except MissrecError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
