"""Item-graph models as the catalogue grows: LATTICE, MICRO and FREEDOM, epoch time and peak memory.

    python benchmarks/graph_scaling.py                           # CPU, scales baby and clothing
    python benchmarks/graph_scaling.py --device cuda --scales baby clothing elec

Synthetic data at the sizes of MMRec's Amazon sets (users / items / interactions): ``baby`` 19,445 / 7,050 / 160,792,
``clothing`` 39,387 / 23,033 / 278,677, ``elec`` 192,403 / 63,001 / 1,689,188, with a 4096-d "image" and a 384-d
"text" modality (item popularity is Zipf-like, features are clustered). Each (scale, model) runs in a fresh child
process so its peak memory is its own: peak RSS on CPU, ``torch.cuda.max_memory_allocated`` on GPU. Reported:
model construction (frozen kNN graphs), the per-epoch graph work (``pre_epoch`` + the first step, which rebuilds
learned graphs), the mean of the following training steps, and the epoch time they imply (steps per epoch =
interactions / batch). The released LATTICE keeps dense I x I graphs, which is why MMRec reports no LATTICE result
on Elec (63k items: 16 GB per matrix); ours are built in chunks and stored sparse.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCALES = {"baby": (19_445, 7_050, 160_792), "clothing": (39_387, 23_033, 278_677), "elec": (192_403, 63_001, 1_689_188)}
DIMS = {"image": 4096, "text": 384}


def synthetic(n_users: int, n_items: int, n_inter: int, seed: int = 0):
    import numpy as np
    import torch

    from missrec.data.general.dataset import GeneralDataset, dedup_pairs
    from missrec.data.general.split import random_user_split

    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    users = np.concatenate([np.arange(n_users), rng.integers(0, n_users, n_inter - n_users)])
    items = rng.choice(n_items, size=n_inter, p=popularity / popularity.sum())
    pairs = dedup_pairs(np.stack([users, items], 1), n_items)
    centres = {m: rng.normal(size=(64, d)).astype(np.float32) for m, d in DIMS.items()}
    cluster = rng.integers(0, 64, n_items)
    features = {m: torch.from_numpy(c[cluster] + rng.normal(scale=0.5, size=(n_items, c.shape[1])).astype(np.float32))
                for m, c in centres.items()}
    train, valid, test = random_user_split(pairs, seed=seed)
    splits = {"train": train, "valid": valid, "test": test}
    return GeneralDataset(name="synthetic", n_users=n_users, n_items=n_items, splits=splits, features=features)


def child(model_name: str, scale: str, device: str, steps: int) -> dict:
    import torch

    import missrec  # noqa: F401
    from missrec.data.general import BPRTrainLoader
    from missrec.registry import get_model
    from missrec.runner_general import build_general_config
    from missrec.trainers.finetune import FinetuneTrainer

    n_users, n_items, n_inter = SCALES[scale]
    data = synthetic(n_users, n_items, n_inter)
    entry = get_model(model_name)
    config = build_general_config(entry.cls, "synthetic", overrides={"device": device, "data_path": "."})
    dev = torch.device(device)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    t0 = time.perf_counter()
    model = entry.cls(config, data).to(dev)
    sync()
    build_s = time.perf_counter() - t0
    trainer = FinetuneTrainer(config, model, Path(tempfile.mkdtemp()))  # the hooks' argument, and the optimiser
    optimizer = trainer.optimizer
    loader = BPRTrainLoader(data, config["train_batch_size"], dev, 0, fields=(model.USER_ID, model.ITEM_ID, model.NEG_ITEM_ID),
                            negatives=model.NEEDS_NEGATIVES, sampler=config["train_sampler"], neg_pool=config["neg_sample_pool"])
    model.train()
    batches = iter(loader)
    times = []
    t0 = time.perf_counter()
    if hasattr(model, "pre_epoch"):
        model.pre_epoch(trainer)
    for step in range(steps + 1):
        batch = next(batches)
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = model.calculate_loss(batch)
        (sum(loss) if isinstance(loss, tuple) else loss).backward()
        optimizer.step()
        sync()
        times.append(time.perf_counter() - start)
        if step == 0:
            first_s = time.perf_counter() - t0
    step_s = sum(times[1:]) / steps
    peak = torch.cuda.max_memory_allocated(dev) if dev.type == "cuda" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"model": model_name, "scale": scale, "items": n_items, "build_s": build_s, "epoch_graph_s": first_s,
            "step_s": step_s, "epoch_s": first_s + step_s * (len(loader) - 1), "peak_gb": peak / 2**30}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["LATTICE", "MICRO", "FREEDOM"])
    parser.add_argument("--scales", nargs="+", choices=sorted(SCALES), default=["baby", "clothing"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "SCALE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.device, args.steps)))
        return
    print(f"device {args.device}; features image 4096-d + text 384-d; peak = {'GPU allocated' if args.device.startswith('cuda') else 'process RSS'}")
    print("| scale (items) | model | build s | epoch graph work s | s/step | est. epoch s | peak GB |")
    print("|---|---|---|---|---|---|---|")
    for scale in args.scales:
        for model in args.models:
            done = subprocess.run([sys.executable, __file__, "--device", args.device, "--steps", str(args.steps), "--child", model, scale],
                                  capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
            if done.returncode:
                reason = (done.stderr.strip().splitlines() or ["?"])[-1][:80]
                print(f"| {scale} ({SCALES[scale][1]:,}) | {model} | failed: {reason} | | | | |", flush=True)
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"| {scale} ({r['items']:,}) | {model} | {r['build_s']:.1f} | {r['epoch_graph_s']:.2f} | {r['step_s']:.3f} | "
                  f"{r['epoch_s']:.0f} | {r['peak_gb']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
