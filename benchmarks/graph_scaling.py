"""Item-graph models as the catalogue grows: LATTICE, MICRO and FREEDOM, epoch time and peak memory.

    python benchmarks/graph_scaling.py                           # CPU, scales baby and clothing
    OMP_NUM_THREADS=2 python benchmarks/graph_scaling.py --scales elec --steps 1 --models LATTICE
    python benchmarks/graph_scaling.py --device cuda --scales baby clothing elec

Synthetic data at the sizes of MMRec's Amazon sets (users / items / interactions): ``baby`` 19,445 / 7,050 / 160,792,
``clothing`` 39,387 / 23,033 / 278,677, ``elec`` 192,403 / 63,001 / 1,689,188, with a 4096-d "image" and a 384-d
"text" modality (item popularity is Zipf-like, features are clustered). Each (scale, model) runs in a fresh child
process so its peak memory is its own: peak RSS on CPU, ``torch.cuda.max_memory_allocated`` on GPU. Reported:
model construction (frozen kNN graphs) and the peak after it, the per-epoch graph work (``pre_epoch`` + the first
step, which rebuilds learned graphs with gradient), the mean of the following training steps, the epoch time they
imply (steps per epoch = the loader's batches), an evaluation-mode rebuild (``eval()`` + one no-grad forward), and
for MICRO the forward + backward time of its all-items contrastive term alone. The peak covers all of it, data
synthesis included. The released LATTICE keeps dense I x I graphs, which is why MMRec reports no LATTICE result on
Elec (63k items: 16 GB per matrix); ours are built in chunks and stored sparse, and the gradient of the learned
graph's values is computed at its nonzeros only (:func:`missrec.modules.graph.sparse.value_grad_spmm`).
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
    cluster = rng.integers(0, 64, n_items)
    features = {}
    for m, d in DIMS.items():  # float32 in row blocks: no float64 [I, 4096] temporary (2 GB at Elec)
        centres = rng.standard_normal((64, d), dtype=np.float32)
        table = centres[cluster]
        for start in range(0, n_items, 4096):
            block = table[start : start + 4096]
            block += 0.5 * rng.standard_normal(block.shape, dtype=np.float32)
        features[m] = torch.from_numpy(table)
    train, valid, test = random_user_split(pairs, seed=seed)
    splits = {"train": train, "valid": valid, "test": test}
    return GeneralDataset(name="synthetic", n_users=n_users, n_items=n_items, splits=splits, features=features)


def child(model_name: str, scale: str, device: str, steps: int, overrides: dict[str, str]) -> dict:
    import torch

    import missrec  # noqa: F401
    from missrec.data.general import BPRTrainLoader
    from missrec.registry import get_model
    from missrec.runner_general import build_general_config
    from missrec.trainers.finetune import FinetuneTrainer, total_loss

    n_users, n_items, n_inter = SCALES[scale]
    data = synthetic(n_users, n_items, n_inter)
    entry = get_model(model_name)
    config = build_general_config(entry.cls, "synthetic", overrides={"device": device, "data_path": ".", **overrides})
    dev = torch.device(device)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    t0 = time.perf_counter()
    model = entry.cls(config, data).to(dev)
    sync()
    build_s = time.perf_counter() - t0
    build_peak = peak_bytes(dev)
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
        total_loss(model.calculate_loss(batch)).backward()
        optimizer.step()
        sync()
        times.append(time.perf_counter() - start)
        if step == 0:
            first_s = time.perf_counter() - t0
    step_s = sum(times[1:]) / steps
    t0 = time.perf_counter()
    model.eval()
    with torch.no_grad():
        model.forward()  # the evaluation's graph rebuild
    sync()
    eval_rebuild_s = time.perf_counter() - t0
    contrastive_s = contrastive_time(model, sync) if hasattr(model, "contrastive_loss") else None
    return {"model": model_name, "scale": scale, "items": n_items, "build_s": build_s, "epoch_graph_s": first_s,
            "step_s": step_s, "steps": len(loader), "epoch_s": first_s + step_s * (len(loader) - 1),
            "eval_rebuild_s": eval_rebuild_s, "contrastive_s": contrastive_s,
            "build_peak_gb": build_peak / 2**30, "peak_gb": peak_bytes(dev) / 2**30}


def peak_bytes(dev) -> int:
    """Peak so far: GPU memory allocated on CUDA, else the process's peak RSS."""
    import torch

    if dev.type == "cuda":
        return torch.cuda.max_memory_allocated(dev)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def contrastive_time(model, sync) -> float:
    """Forward + backward of MICRO's contrastive fusion term over all items alone (as in a training step)."""
    import torch

    model.train()
    with torch.no_grad():
        _, _, hs, h = model.encode()
    hs = [x.detach().requires_grad_(True) for x in hs]
    h = h.detach().requires_grad_(True)
    t0 = time.perf_counter()
    model.contrastive_loss(hs, h).backward()
    sync()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["LATTICE", "MICRO", "FREEDOM"])
    parser.add_argument("--scales", nargs="+", choices=sorted(SCALES), default=["baby", "clothing"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="config overrides for every model, e.g. D_max_width=4096 (values parsed as YAML)")
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "SCALE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    import yaml

    overrides = {k: yaml.safe_load(v) for k, _, v in (item.partition("=") for item in args.set)}
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.device, args.steps, overrides)))
        return
    print(f"device {args.device}; features image 4096-d + text 384-d; peak = {'GPU allocated' if args.device.startswith('cuda') else 'process RSS'}"
          + (f"; overrides {overrides}" if overrides else ""))
    print("| scale (items) | model | build s | epoch graph work s | s/step | steps/epoch | est. epoch s | eval rebuild s "
          "| contrastive term s | peak after build GB | peak GB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for scale in args.scales:
        for model in args.models:
            done = subprocess.run([sys.executable, __file__, "--device", args.device, "--steps", str(args.steps),
                                   "--set", *args.set, "--child", model, scale],
                                  capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
            if done.returncode:
                reason = (done.stderr.strip().splitlines() or ["?"])[-1][:80]
                print(f"| {scale} ({SCALES[scale][1]:,}) | {model} | failed: {reason} | | | | | | | | |", flush=True)
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            contrastive = "" if r["contrastive_s"] is None else f"{r['contrastive_s']:.1f}"
            print(f"| {scale} ({r['items']:,}) | {model} | {r['build_s']:.1f} | {r['epoch_graph_s']:.2f} | "
                  f"{r['step_s']:.3f} | {r['steps']:,} | {r['epoch_s']:,.0f} | {r['eval_rebuild_s']:.2f} | {contrastive} | "
                  f"{r['build_peak_gb']:.2f} | {r['peak_gb']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
