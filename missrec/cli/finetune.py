"""``python finetune.py``: fine-tune (or train from scratch) a sequential model and report test metrics."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from missrec.cli.common import add_run_options, parse_run_args, run_reporting_errors
from missrec.config import parse_overrides
from missrec.registry import MODELS, get_model
from missrec.runner import DEFAULT_DATASET, MODES, run_finetune


def build_parser() -> argparse.ArgumentParser:
    get_model("MISSRec")  # populate the registry for --help
    parser = argparse.ArgumentParser(
        prog="finetune.py",
        description="Fine-tune MISSRec (or a baseline) on a benchmark dataset; prints the valid/test metrics table "
        "and writes results.json, curves.png, TensorBoard scalars and the best checkpoint to the output folder.",
        epilog="examples:\n  python finetune.py\n  python finetune.py -mode inductive -p saved/MISSRec-ML1M_genres-3.safetensors\n"
        "  python finetune.py -mode inductive -p saved/MISSRec-ML1M_genres-3.safetensors --zero-shot\n"
        "  python finetune.py -d Scientific_mm_full --device cuda legacy_topk_offset=true",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_options(parser, DEFAULT_DATASET, "run folder (default: runs/<model>-<dataset>-<mode>-<time>)")
    parser.add_argument("-mode", "--mode", default="transductive", choices=sorted(MODES), help="with item IDs (transductive) or without (default: %(default)s)")
    parser.add_argument("-p", "--pretrained", default=None, help="pre-trained checkpoint to transfer from: ours "
                        "(.safetensors) or the authors' MISSRec/UniSRec .pth (read without unpickling code)")
    parser.add_argument("--zero-shot", action="store_true", help="evaluate the pre-trained checkpoint on the "
                        "dataset without training (needs -p and -mode inductive; MISSRec discovers its interests first)")
    sequential = sorted(name for name, entry in MODELS.items() if entry.kind == "sequential")
    parser.add_argument("--model", default="MISSRec", choices=sequential, help="model (default: %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_run_args(build_parser(), argv)
    return run_reporting_errors(lambda: run_finetune(
        model=args.model,
        dataset=args.dataset,
        mode=args.mode,
        pretrained=args.pretrained,
        device=args.device,
        epochs=args.epochs,
        output_dir=args.output,
        overrides=parse_overrides(args.overrides),
        props=args.props,
        overwrite=args.overwrite,
        resume=args.resume,
        zero_shot=args.zero_shot,
    ))
