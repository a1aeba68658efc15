"""Fine-tuning throughput: the full training loop vs the bare model step, on the same synthetic data.

    python benchmarks/finetune_throughput.py --scale embedded --device cpu
    OMP_NUM_THREADS=2 python benchmarks/finetune_throughput.py --scale office --device cpu
    python benchmarks/finetune_throughput.py --scale office --device cuda --steps 50

Scales: ``embedded`` = the embedded MovieLens-100K with its CPU props (1,682 items, 97,171 train rows, text 384-d +
KG 64-d, hidden 64, histories of 20); ``office`` = MISSRec's Office (25,986 items, 422,799 train rows, 87,346
users, two 512-d modalities, hidden 300, histories of up to 50, mean length 7.8).

Measured, in one process, on identical batches:
* bare step: ``zero_grad; calculate_loss; backward; step`` over batches already on the device (the upper bound);
* full loop: ``FinetuneTrainer._train_epoch`` over the ``DeviceBatchLoader`` (shuffling, gathering, hooks, loss
  bookkeeping) on the same number of rows;
* interest discovery (k-means over all items' adapted embeddings, once per epoch) and full-ranking evaluation of
  ``--eval-users`` rows (default: every user of the scale) in batches of ``--eval-batch``.

Memory (CPU): the process's peak RSS during training (model, optimiser, batches) and during evaluation, each phase's
peak measured on its own (Linux ``/proc/self/clear_refs`` resets the peak; ``VmHWM`` reads it), and the evaluation's
growth over the RSS it started from. Evaluation scores one ``[eval_batch, items]`` chunk at a time; the table prints
what one chunk and what a dense ``users x items`` matrix would take, so a non-chunked evaluation would show.
GPU: ``torch.cuda.max_memory_allocated`` per phase.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from recbole.data.interaction import Interaction

import missrec  # noqa: F401
from missrec.config import build_config
from missrec.data.loaders import DeviceBatchLoader
from missrec.evaluation.sequential import NextItemEvaluator
from missrec.models.missrec import MISSRec
from missrec.trainers.finetune import FinetuneTrainer, total_loss

SCALES = {
    "embedded": dict(n_items=1682, rows=97_171, users=943, dims={"text": 384, "kg": 64}, hidden=64, inner=128, max_len=20, mean_len=20.0),
    "office": dict(n_items=25_986, rows=422_799, users=87_346, dims={"text": 512, "image": 512}, hidden=300, inner=256, max_len=50, mean_len=7.8),
}


class SyntheticData:
    """Stands in for the RecBole dataset: item count and modality features."""

    def __init__(self, n_items: int, dims: dict[str, int], seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.n_items = n_items + 1  # + PAD
        self.modality_features = {m: torch.randn(self.n_items, d, generator=g) for m, d in dims.items()}

    def num(self, field: str) -> int:
        return self.n_items


def synthetic_rows(n_rows: int, n_items: int, max_len: int, mean_len: float, seed: int = 0) -> Interaction:
    """Right-padded histories with geometric-ish lengths around ``mean_len`` (capped at ``max_len``)."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.geometric(1.0 / mean_len, n_rows), 1, max_len)
    seq = rng.integers(1, n_items + 1, size=(n_rows, max_len))
    seq[np.arange(max_len)[None, :] >= lengths[:, None]] = 0
    return Interaction({
        "item_id_list": torch.from_numpy(seq),
        "item_length": torch.from_numpy(lengths),
        "item_id": torch.from_numpy(rng.integers(1, n_items + 1, size=n_rows)),
    })


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _status_gb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def reset_peak(device: torch.device) -> float:
    """Start a new peak-memory phase; returns the memory in use now (GB)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device) / 2**30
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
    except OSError:
        pass
    return _status_gb("VmRSS") or 0.0


def peak(device: torch.device) -> float:
    """Peak memory (GB) since the last :func:`reset_peak` (CPU without /proc: since the process started)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return _status_gb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def bench(scale: str, device: str, steps: int, batch: int, eval_users: int | None, eval_batch: int,
          out_dir: Path) -> dict[str, float]:
    s = SCALES[scale]
    eval_users = eval_users or s["users"]
    dev = torch.device(device)
    reset_peak(dev)
    overrides = dict(hidden_size=s["hidden"], inner_size=s["inner"], MAX_ITEM_LIST_LENGTH=s["max_len"], device=device,
                     train_batch_size=batch, data_path=str(out_dir), show_progress=False)
    config = build_config(MISSRec, "synthetic", overrides=overrides)
    data = SyntheticData(s["n_items"], s["dims"])
    rows = synthetic_rows(steps * batch, s["n_items"], s["max_len"], s["mean_len"])
    model = MISSRec(config, data).to(dev)
    t0 = time.perf_counter()
    model.discover_interests()
    sync(dev)
    kmeans_s = time.perf_counter() - t0

    # bare step on pre-gathered device batches
    batches = [rows[i * batch : (i + 1) * batch].to(dev) for i in range(steps)]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for b in batches[:2]:  # warm-up
        opt.zero_grad(set_to_none=True)
        total_loss(model.calculate_loss(b)).backward()
        opt.step()
    sync(dev)
    t0 = time.perf_counter()
    for b in batches:
        opt.zero_grad(set_to_none=True)
        total_loss(model.calculate_loss(b)).backward()
        opt.step()
    sync(dev)
    bare = steps * batch / (time.perf_counter() - t0)

    # full loop: the trainer's epoch over the device loader
    trainer = FinetuneTrainer(config, model, out_dir / "trainer")
    loader = DeviceBatchLoader(rows, batch, shuffle=True, device=dev, seed=0)
    t0 = time.perf_counter()
    trainer._train_epoch(loader, 0)
    sync(dev)
    full = steps * batch / (time.perf_counter() - t0)

    train_peak = peak(dev)

    users = synthetic_rows(eval_users, s["n_items"], s["max_len"], s["mean_len"], seed=1)
    evaluator = NextItemEvaluator(DeviceBatchLoader(users, eval_batch, False, dev), "item_id", [10, 50], ["hit", "ndcg"])
    eval_base = reset_peak(dev)
    t0 = time.perf_counter()
    evaluator.run(model)
    sync(dev)
    eval_s = time.perf_counter() - t0
    eval_peak = peak(dev)
    eval_rate = eval_users / eval_s
    scores_gb = (s["n_items"] + 1) * 4 / 2**30  # one user's float32 scores over every item (+ PAD)
    return {
        "bare_seq_s": bare, "full_seq_s": full, "ratio": full / bare, "kmeans_s": kmeans_s, "eval_users_s": eval_rate,
        "epoch_s_est": s["rows"] / full + kmeans_s + s["users"] / eval_rate, "train_peak_gb": train_peak,
        "eval_users": eval_users, "eval_s": eval_s, "eval_peak_gb": eval_peak, "eval_growth_gb": eval_peak - eval_base,
        "chunk_gb": eval_batch * scores_gb, "dense_gb": s["users"] * scores_gb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), nargs="+", default=["embedded", "office"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=10, help="training steps measured per variant")
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--eval-users", type=int, help="rows evaluated (default: every user of the scale)")
    parser.add_argument("--eval-batch", type=int, default=1024, help="users scored per evaluation chunk")
    args = parser.parse_args()
    print(f"device {args.device} ({torch.cuda.get_device_name() if args.device.startswith('cuda') else f'{torch.get_num_threads()} CPU threads'}), "
          f"torch {torch.__version__}, batch {args.batch}, {args.steps} steps")
    print("| scale | bare step seq/s | full loop seq/s | full/bare | k-means s | train peak GB | eval users | eval s "
          "| eval users/s | eval peak GB (growth) | one chunk / dense users x items GB | est. epoch s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for scale in args.scale:
            r = bench(scale, args.device, args.steps, args.batch, args.eval_users, args.eval_batch, Path(tmp))
            print(f"| {scale} | {r['bare_seq_s']:,.0f} | {r['full_seq_s']:,.0f} | {r['ratio']:.2f} | {r['kmeans_s']:.2f} | "
                  f"{r['train_peak_gb']:.2f} | {r['eval_users']:,} | {r['eval_s']:.1f} | {r['eval_users_s']:,.0f} | "
                  f"{r['eval_peak_gb']:.2f} (+{r['eval_growth_gb']:.2f}) | {r['chunk_gb']:.2f} / {r['dense_gb']:.1f} | "
                  f"{r['epoch_s_est']:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
