"""Pre-training throughput (sequences/s per process and in total) of the Accelerate loop on synthetic data.

    python benchmarks/pretrain_throughput.py --cpu                                        # 1 CPU process
    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 benchmarks/pretrain_throughput.py
    accelerate launch benchmarks/pretrain_throughput.py --scale fhckm                      # GPU(s)

Scales: ``fhckm`` = MISSRec's pre-training (two 512-d modalities, hidden 300, histories up to 50 with mean ~7,
global batch 4096, K = 17,879 interests over 446,975 items); ``ml1m`` = our ML-1M genre corpus with the CPU props
(text 384 + KG 64, hidden 64, histories of 20, global batch 1024). The timed steps follow ``--warmup`` steps and
run the full objective (two views, all-gathered negatives, backward, Adam); interest discovery is timed apart.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from accelerate.utils import set_seed

import missrec  # noqa: F401
from missrec.config import build_config
from missrec.models.missrec import MISSRec
from missrec.runner_pretrain import make_accelerator
from missrec.trainers.pretrain import AcceleratePretrainer
sys.path.insert(0, str(Path(__file__).resolve().parent))
from finetune_throughput import SyntheticData, synthetic_rows  # noqa: E402

SCALES = {
    "fhckm": dict(n_items=446_975, dims={"text": 512, "image": 512}, hidden=300, inner=256, max_len=50, mean_len=7.0, batch=4096),
    "ml1m": dict(n_items=3_703, dims={"text": 384, "kg": 64}, hidden=64, inner=128, max_len=20, mean_len=20.0, batch=1024),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="ml1m")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--cpu", action="store_true")
    args = parser.parse_args()
    s = SCALES[args.scale]
    acc = make_accelerator(cpu=args.cpu)
    set_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        overrides = dict(hidden_size=s["hidden"], inner_size=s["inner"], MAX_ITEM_LIST_LENGTH=s["max_len"],
                         train_batch_size=s["batch"], device=str(acc.device), data_path=tmp, show_progress=False,
                         pretrain_epochs=1, state_every_steps=10**9, modalities={m: "x" for m in s["dims"]})
        config = build_config(MISSRec, "synthetic", "pretrain", overrides=overrides)
        model = MISSRec(config, SyntheticData(s["n_items"], s["dims"]))
        rows = synthetic_rows((args.warmup + args.steps) * s["batch"], s["n_items"], s["max_len"], s["mean_len"])
        trainer = AcceleratePretrainer(config, model, rows, acc, Path(tmp) / "run", Path(tmp) / "saved", {})
        t0 = time.perf_counter()
        trainer.discover_interests()
        interests_s = time.perf_counter() - t0
        trainer.discover_interests = lambda: {}  # already done: time the steps alone
        trainer.fit(max_steps=args.warmup)
        if acc.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        trainer.epoch, trainer.step = 0, args.warmup
        trainer.fit(max_steps=args.warmup + args.steps)
        if acc.device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
    per_process = args.steps * s["batch"] // acc.num_processes / seconds
    if acc.is_main_process:
        device = torch.cuda.get_device_name() if acc.device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads/process"
        print(f"| {args.scale} | {acc.num_processes} x {device} | global batch {s['batch']} | {per_process:,.0f} seq/s per process "
              f"| {per_process * acc.num_processes:,.0f} seq/s total | {seconds / args.steps * 1000:.0f} ms/step | interest discovery {interests_s:.2f} s |")


if __name__ == "__main__":
    main()
