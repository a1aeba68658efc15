"""CPU dropout: torch's ``bernoulli_`` mask against the uniform-drawn masks of ``missrec.modules.fast_dropout`` —
uniforms from ``torch.rand`` and from numpy's SFC64 (ours) — on a single tensor and in the MISSRec / UniSRec training
step (``fast_cpu_dropout`` False vs True, same run).

    OMP_NUM_THREADS=1 python benchmarks/dropout_cpu.py
    OMP_NUM_THREADS=1 python benchmarks/dropout_cpu.py --steps 10

Model steps use the embedded MovieLens-100K sizes of ``benchmarks/finetune_throughput.py`` (1,682 items, hidden 64,
histories of 20; text 384 + kg 64) with each model's fine-tuning batch (MISSRec 512, UniSRec 2,048), synthetic
histories, ``zero_grad; loss; backward; step``, the first step not timed.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time

import torch
import torch.nn.functional as F
from finetune_throughput import SCALES, SyntheticData, synthetic_rows
from tabulate import tabulate

import missrec  # noqa: F401
from missrec.config import build_config
from missrec.models.missrec import MISSRec
from missrec.models.unisrec import UniSRec
from missrec.modules import fast_dropout
from missrec.modules.fast_dropout import dropout
from missrec.trainers.finetune import total_loss


def per_call(fn, repeats: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


@contextlib.contextmanager
def torch_rand_uniforms():
    """Inside: the fast dropout draws its uniforms with ``torch.rand`` instead of numpy's SFC64."""
    ours = fast_dropout.uniform
    fast_dropout.uniform = lambda shape: torch.rand(tuple(shape))
    try:
        yield
    finally:
        fast_dropout.uniform = ours


def tensor_rows(repeats: int) -> list[list]:
    rows = []
    for shape in ((512, 20, 128), (512, 4, 40, 40)):
        x = torch.randn(shape)
        torch_s = per_call(lambda: F.dropout(x, 0.5, True), repeats)
        with torch_rand_uniforms():
            rand_s = per_call(lambda: dropout(x, 0.5), repeats)
        ours_s = per_call(lambda: dropout(x, 0.5), repeats)
        rows.append([f"dropout p=0.5 on {list(shape)}", f"{torch_s * 1e3:.1f} ms", f"{rand_s * 1e3:.1f} ms",
                     f"{ours_s * 1e3:.1f} ms", f"{torch_s / ours_s:.2f}x"])
    return rows


def model_step_seconds(cls: type, batch: int, steps: int, fast: bool) -> float:
    s = SCALES["embedded"]
    dims = {"text": 384} if cls is UniSRec else s["dims"]
    overrides = dict(hidden_size=s["hidden"], inner_size=s["inner"], MAX_ITEM_LIST_LENGTH=s["max_len"], device="cpu",
                     train_batch_size=batch, data_path=tempfile.mkdtemp(), show_progress=False, fast_cpu_dropout=fast,
                     modalities={m: f"feat_{m}" for m in dims})
    config = build_config(cls, "synthetic", overrides=overrides)
    torch.manual_seed(0)
    model = cls(config, SyntheticData(s["n_items"], dims))
    if hasattr(model, "discover_interests"):
        model.discover_interests()
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    rows = synthetic_rows((steps + 1) * batch, s["n_items"], s["max_len"], s["mean_len"])
    batches = [rows[i * batch : (i + 1) * batch] for i in range(steps + 1)]

    def step(b) -> None:
        optimizer.zero_grad()
        total_loss(model.calculate_loss(b)).backward()
        optimizer.step()

    step(batches[0])
    t0 = time.perf_counter()
    for b in batches[1:]:
        step(b)
    return (time.perf_counter() - t0) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=6, help="timed training steps per model and variant")
    parser.add_argument("--repeats", type=int, default=20, help="calls per tensor timing")
    args = parser.parse_args()
    rows = tensor_rows(args.repeats)
    for cls, batch in ((MISSRec, 512), (UniSRec, 2048)):
        torch_s = model_step_seconds(cls, batch, args.steps, fast=False)
        with torch_rand_uniforms():
            rand_s = model_step_seconds(cls, batch, args.steps, fast=True)
        ours_s = model_step_seconds(cls, batch, args.steps, fast=True)
        rows.append([f"{cls.__name__} training step, batch {batch}", f"{torch_s:.3f} s ({batch / torch_s:,.0f} seq/s)",
                     f"{rand_s:.3f} s ({batch / rand_s:,.0f} seq/s)", f"{ours_s:.3f} s ({batch / ours_s:,.0f} seq/s)",
                     f"{torch_s / ours_s:.2f}x"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print(tabulate(rows, headers=["what", "torch bernoulli_", "torch.rand mask", "SFC64 mask (ours)", "speed-up"],
                   tablefmt="github"))


if __name__ == "__main__":
    main()
