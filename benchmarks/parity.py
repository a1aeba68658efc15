"""Parity with a peer implementation: our runner against RecBole 1.2.1's own pipeline, on the same files.

For every model and seed, two runs start side by side (one thread each, so they share the machine alike):

* **ours**: ``missrec.runner.run_finetune`` (SASRec on ``ML100K_mm_full``) or ``missrec.runner_general.run_general``
  (BPR, LightGCN on ``ML100K_general``): our data path, trainer and evaluator;
* **RecBole**: ``benchmarks/parity_recbole.py``: RecBole's ``create_dataset`` / ``data_preparation`` / model /
  ``Trainer`` / full-sort evaluator on copies of the same split files.

Both take the same hyper-parameters (read from our resolved config), early-stop on validation (patience
``stopping_step``, ties count as improvements on both sides, RecBole's rule), and report test at the best
validation epoch. The protocol is aligned where the defaults differ: BPR without a regulariser (RecBole's BPR has
none), negatives uniform over all items (RecBole's sampler), validation items masked at test (RecBole masks train +
valid). Results go to ``<out>/<model>-<side>-<seed>.json``; existing ones are skipped, so the table can be built
across sittings. Parity holds for a metric where ``|mean_ours - mean_recbole| <= 2 * max(std_ours, std_recbole)``.

    python benchmarks/parity.py                                   # SASRec, BPR, LightGCN x seeds 2020-2022
    python benchmarks/parity.py --models BPR --seeds 1 2 3 --out /tmp/parity
    python benchmarks/parity.py --table-only                      # print / write the table from what exists
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEQUENTIAL = {"SASRec": "ML100K_mm_full"}
GENERAL = {"BPR": "ML100K_general", "LightGCN": "ML100K_general"}
TOPK = [10, 20, 50]
SEQ_KEYS = (
    "hidden_size",
    "inner_size",
    "n_layers",
    "n_heads",
    "hidden_dropout_prob",
    "attn_dropout_prob",
    "hidden_act",
    "layer_norm_eps",
    "initializer_range",
    "loss_type",
    "MAX_ITEM_LIST_LENGTH",
)
GENERAL_KEYS = ("embedding_size", "n_layers", "reg_weight")
TRAIN_KEYS = (
    "train_batch_size",
    "eval_batch_size",
    "epochs",
    "learner",
    "learning_rate",
    "weight_decay",
    "stopping_step",
    "eval_step",
    "valid_metric",
    "clip_grad_norm",
)


MAX_EPOCHS: int | None = None  # --epochs: a cap for smoke runs (default: the props' maximum, with early stopping)


def our_overrides(model: str, seed: int) -> dict[str, Any]:
    """Our config overrides for one parity run (protocol aligned with RecBole's, see the module docstring)."""
    common = {"seed": seed, "topk": TOPK, "show_progress": False, "tie_counts_as_improvement": True}
    if MAX_EPOCHS is not None:
        common["epochs"] = MAX_EPOCHS
    if model in SEQUENTIAL:
        return {**common, "metrics": ["Hit", "Recall", "NDCG"]}
    general = {**common, "metrics": ["Hit", "Recall", "NDCG"], "neg_sample_pool": "all", "mask_valid_in_test": True}
    return {**general, "reg_weight": 0.0} if model == "BPR" else general


def our_config(model: str, seed: int):
    """Our fully resolved config for the run (the source of every shared hyper-parameter)."""
    from missrec.config import build_config
    from missrec.registry import get_model
    from missrec.runner_general import build_general_config

    cls = get_model(model).cls
    if model in SEQUENTIAL:
        return build_config(
            cls, SEQUENTIAL[model], "finetune", (), {**our_overrides(model, seed), "train_stage": "transductive_ft"}
        )
    return build_general_config(cls, GENERAL[model], (), our_overrides(model, seed))


def recbole_config(model: str, seed: int, data_dir: Path) -> dict[str, Any]:
    """RecBole's config dict: our values for every shared key, RecBole's names for its data layout."""
    ours = our_config(model, seed)
    shared = {k: ours[k] for k in (*TRAIN_KEYS, *(SEQ_KEYS if model in SEQUENTIAL else GENERAL_KEYS)) if k in ours}
    base = {
        "model": model,
        "data_path": str(data_dir),
        "benchmark_filename": ["train", "valid", "test"],
        "topk": TOPK,
        "metrics": ["Hit", "Recall", "NDCG"],
        "seed": seed,
        "reproducibility": True,
        "device": "cpu",
        "use_gpu": False,
        "show_progress": False,
        "checkpoint_dir": "saved",
        "state": "WARNING",
    }
    if model in SEQUENTIAL:
        return {
            **shared,
            **base,
            "dataset": SEQUENTIAL[model],
            "alias_of_item_id": ["item_id_list"],
            "load_col": {"inter": ["user_id", "item_id_list", "item_id"]},
            "train_neg_sample_args": None,
            "eval_args": {"split": {"RS": [0.8, 0.1, 0.1]}, "order": "TO", "group_by": "user", "mode": "full"},
        }
    return {
        **shared,
        **base,
        "dataset": GENERAL[model],
        "load_col": {"inter": ["user_id", "item_id"]},
        "train_neg_sample_args": {
            "distribution": "uniform",
            "sample_num": 1,
            "alpha": 1.0,
            "dynamic": False,
            "candidate_num": 0,
        },
        "eval_args": {"split": {"RS": [0.8, 0.1, 0.1]}, "order": "RO", "group_by": "user", "mode": "full"},
    }


def export_recbole_files(model: str, seed: int, data_dir: Path) -> None:
    """The split files RecBole reads: the sequential files cut to their last items, or our general split."""
    dataset = SEQUENTIAL.get(model) or GENERAL[model]
    folder = data_dir / dataset
    if folder.is_dir():
        return
    tmp = folder.with_name(folder.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    ours = our_config(model, seed)
    if model in SEQUENTIAL:
        from parity_recbole import cut_sequences

        src = ROOT / "datasets" / "downstream" / dataset
        for split in ("train", "valid", "test"):
            name = f"{dataset}.{split}.inter"
            cut_sequences(src / name, tmp / name, int(ours["MAX_ITEM_LIST_LENGTH"]))
    else:
        from missrec.data.general import load_general_dataset

        data = load_general_dataset(ours)  # the split is a function of split_seed, not of the run seed
        for split, pairs in data.splits.items():
            rows = "".join(f"{u}\t{i}\n" for u, i in pairs)
            (tmp / f"{dataset}.{split}.inter").write_text("user_id:token\titem_id:token\n" + rows)
    tmp.rename(folder)


def run_ours(model: str, seed: int, out: Path) -> dict[str, Any]:
    """One run through our runner; returns the fields the table needs."""
    from missrec.runner import run_finetune
    from missrec.runner_general import run_general

    run_dir = out / "runs" / f"{model}-ours-{seed}"
    runner = run_finetune if model in SEQUENTIAL else run_general
    res = runner(
        model=model,
        dataset=SEQUENTIAL.get(model) or GENERAL[model],
        device="cpu",
        output_dir=run_dir,
        overrides=our_overrides(model, seed),
        overwrite=True,  # an interrupted run's folder
    )
    return {
        "valid": res["valid"],
        "test": res["test"],
        "best_epoch": res["best_epoch"],
        "epochs_run": res["epochs_run"],
        "train_seconds": [h["train_seconds"] + h.get("pre_epoch_seconds", 0.0) for h in res["history"]],
    }


def launch(model: str, side: str, seed: int, out: Path) -> subprocess.Popen | None:
    """Start one worker process (1 thread) unless its result exists."""
    result = out / f"{model}-{side}-{seed}.json"
    if result.is_file():
        return None
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": f"{ROOT}:{ROOT / 'benchmarks'}"}
    log = open(out / f"{model}-{side}-{seed}.log", "w")
    if side == "recbole":
        data_dir = out / "recbole_data"
        export_recbole_files(model, seed, data_dir)
        spec = {
            "config": recbole_config(model, seed, data_dir.resolve()),
            "workdir": str((out / "scratch" / f"{model}-{seed}").resolve()),
            "result": str(result.resolve()),
        }
        spec_file = out / f"{model}-{side}-{seed}.spec.json"
        spec_file.write_text(json.dumps(spec, indent=1))
        cmd = [sys.executable, str(ROOT / "benchmarks" / "parity_recbole.py"), str(spec_file)]
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", model, str(seed), "--out", str(out)]
        if MAX_EPOCHS is not None:
            cmd += ["--epochs", str(MAX_EPOCHS)]
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)


def summarise(out: Path, models: list[str], seeds: list[int]) -> str:
    """The parity table (markdown) from the result files present."""
    metrics = [f"{m}@{k}" for m in ("hit", "recall", "ndcg") for k in TOPK]
    lines = [
        f"Parity: test metrics, mean ± std over seeds {seeds}; {platform.processor() or platform.machine()}, "
        f"1 thread per run, ours and RecBole side by side.",
        "",
    ]
    for model in models:
        sides = {}
        for side in ("ours", "recbole"):
            runs = [json.loads(p.read_text()) for s in seeds if (p := out / f"{model}-{side}-{s}.json").is_file()]
            sides[side] = runs
        if not sides["ours"] and not sides["recbole"]:
            lines.append(f"**{model}**: pending (`python benchmarks/parity.py --models {model}`)\n")
            continue
        header = "| metric | ours | RecBole | ours − RecBole | parity |"
        lines += [
            f"**{model}** on {SEQUENTIAL.get(model) or GENERAL[model]} (runs: ours {len(sides['ours'])}, "
            f"RecBole {len(sides['recbole'])})",
            "",
            header,
            "|---|---|---|---|---|",
        ]
        for metric in metrics:
            vals = {s: [r["test"][metric] for r in runs if metric in r["test"]] for s, runs in sides.items()}
            lines.append(_row(metric, vals["ours"], vals["recbole"]))
        epochs = {s: [r["best_epoch"] for r in runs] for s, runs in sides.items()}
        lines.append(_row("best epoch", epochs["ours"], epochs["recbole"], parity=False, digits=1))
        run_len = {s: [r["epochs_run"] for r in runs] for s, runs in sides.items()}
        lines.append(_row("epochs run", run_len["ours"], run_len["recbole"], parity=False, digits=1))
        sec = {
            s: [statistics.mean(r["train_seconds"]) for r in runs if r["train_seconds"]] for s, runs in sides.items()
        }
        ratio = (
            f"{statistics.mean(sec['ours']) / statistics.mean(sec['recbole']):.2f}"
            if sec["ours"] and sec["recbole"]
            else "–"
        )
        lines.append(
            _row("train s/epoch", sec["ours"], sec["recbole"], parity=False, digits=2) + f" ours/RecBole = {ratio} |"
        )
        lines.append("")
    return "\n".join(lines)


def _fmt(values: list[float], digits: int) -> str:
    if not values:
        return "pending"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {std:.{digits}f}"


def _row(name: str, ours: list[float], peer: list[float], parity: bool = True, digits: int = 4) -> str:
    if not ours or not peer:
        return f"| {name} | {_fmt(ours, digits)} | {_fmt(peer, digits)} | – | – |"
    diff = statistics.mean(ours) - statistics.mean(peer)
    if not parity:
        return f"| {name} | {_fmt(ours, digits)} | {_fmt(peer, digits)} | {diff:+.{digits}f} |"
    spread = max(statistics.stdev(v) if len(v) > 1 else 0.0 for v in (ours, peer))
    verdict = (
        "holds" if abs(diff) <= 2 * spread else f"**no** ({abs(diff) / spread:.1f} std)" if spread else "n/a (1 run)"
    )
    return f"| {name} | {_fmt(ours, digits)} | {_fmt(peer, digits)} | {diff:+.{digits}f} | {verdict} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=[*SEQUENTIAL, *GENERAL], choices=[*SEQUENTIAL, *GENERAL])
    parser.add_argument("--seeds", nargs="+", type=int, default=[2020, 2021, 2022])
    parser.add_argument("--out", default="benchmarks/parity_runs", help="results folder (default: %(default)s)")
    parser.add_argument("--table-only", action="store_true", help="only print/write the table from existing results")
    parser.add_argument("--epochs", type=int, default=None, help="cap the epochs on both sides (smoke runs only)")
    parser.add_argument("--worker", nargs=2, metavar=("MODEL", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    global MAX_EPOCHS
    MAX_EPOCHS = args.epochs
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.worker:
        model, seed = args.worker[0], int(args.worker[1])
        result = run_ours(model, seed, out)
        (out / f"{model}-ours-{seed}.json").write_text(json.dumps(result, indent=1))
        return 0
    if not args.table_only:
        for model in args.models:
            for seed in args.seeds:
                t0 = time.perf_counter()
                procs = {side: launch(model, side, seed, out) for side in ("ours", "recbole")}
                failed = [side for side, p in procs.items() if p is not None and p.wait() != 0]
                print(
                    f"{model} seed {seed}: {time.perf_counter() - t0:.0f}s"
                    + (f"; FAILED: {failed} (see the .log)" if failed else ""),
                    flush=True,
                )
    table = summarise(out, args.models, args.seeds)
    (out / "parity.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
