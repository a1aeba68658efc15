"""End-of-run outputs: a metrics table on stdout, ``results.json`` and a PNG of the training curves."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tabulate import tabulate

from missrec.hardware import describe_hardware
from missrec.io_utils import atomic_open, atomic_write_json
from missrec.logging_utils import get_logger


def default_run_dir(*parts: str) -> Path:
    """``runs/<part>-<part>-...-<timestamp>`` under the working directory; ``-2``, ``-3`` ... appended when a run
    started in the same second already has that folder."""
    base = Path("runs") / "-".join([*parts, time.strftime("%Y%m%d-%H%M%S")])
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean, 0 for no values."""
    return sum(values) / len(values) if values else 0.0


def trainer_summary(trainer) -> dict[str, Any]:
    """What every results.json says about training: best epoch, epochs run, history, checkpoint."""
    return {
        "best_epoch": trainer.best_epoch,
        "epochs_run": len(trainer.history),
        "history": trainer.history,
        "checkpoint": str(trainer.checkpoint_stem.with_suffix(".safetensors")),
        "hardware": describe_hardware(trainer.device),
    }


def finish_run(results: Mapping[str, Any], valid_metric: str, title: str) -> None:
    """Write ``results.json`` and ``curves.png`` into ``results["output_dir"]`` and log the metrics table."""
    out = Path(results["output_dir"])
    write_results(out / "results.json", results)
    curves = plot_curves(results["history"], valid_metric, out / "curves.png")
    logger = get_logger()
    subsets = {k: v for k, v in results.items() if k.startswith("test_") and k != "test_subset_rows" and v}
    logger.info(title + "\n" + metrics_table({"valid": results["valid"], "test": results["test"], **subsets}))
    logger.info(f"results: {out / 'results.json'}" + (f"; curves: {curves}" if curves else " (no epoch trained: no curves)"))


def metrics_table(results: Mapping[str, Mapping[str, float]], digits: int = 4) -> str:
    """Rows = splits (``valid``, ``test``), columns = metrics, e.g. ``hit@10``."""
    columns = sorted({m for r in results.values() for m in r}, key=_metric_order)
    rows = [[split, *(round(r.get(c, float("nan")), digits) for c in columns)] for split, r in results.items()]
    return tabulate(rows, headers=["split", *columns], tablefmt="github", floatfmt=f".{digits}f")


def _metric_order(name: str) -> tuple[int, str]:
    metric, _, k = name.partition("@")
    return (int(k) if k.isdigit() else 0, metric)


def write_results(path: str | Path, payload: Mapping[str, Any]) -> None:
    """Write ``results.json`` atomically."""
    atomic_write_json(path, payload)


def plot_curves(history: Sequence[Mapping[str, Any]], valid_metric: str, path: str | Path) -> Path | None:
    """Train loss and the validation metric per epoch, as a PNG. Returns the path, or None without epochs."""
    if not history:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax_loss.plot(epochs, [h["train_loss"] for h in history], marker="o", ms=3)
    ax_loss.set(xlabel="epoch", ylabel="train loss (mean per batch)", title="training loss")
    metric_key = f"valid/{valid_metric.lower()}"
    ax_metric.plot(epochs, [h.get(metric_key, float("nan")) for h in history], marker="o", ms=3, color="tab:green")
    ax_metric.set(xlabel="epoch", ylabel=valid_metric, title=f"validation {valid_metric}")
    for ax in (ax_loss, ax_metric):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)
    return path
