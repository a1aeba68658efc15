"""The resumable state of a fine-tuning or graph-model run, saved between epochs (layout:
:mod:`missrec.trainers.state_folders`), so that a run longer than a sitting continues where it stopped.

A state holds everything the next epoch depends on:

* ``model.safetensors`` (+ ``.json``): the model's full state dict, buffers included;
* ``optimizer.pt``: the optimiser, the AMP grad scaler and every auxiliary optimiser of the model
  (:class:`~missrec.modules.losses.auxiliary.AuxiliaryOptimizer`: MMSSL's critic, SEA's CLUB estimator);
* ``rng.pt``: torch's (and CUDA's), numpy's and Python's global random states, as they are when the next epoch starts;
* ``position.json``, written last: the next epoch, the trainer's early-stopping counters, best epoch and result, the
  history of the epochs run, and whether early stopping ended the run.

Training order is seeded per epoch (:class:`~missrec.data.loaders.DeviceBatchLoader`,
:class:`~missrec.data.general.BPRTrainLoader`), so a resumed run is the run that was not interrupted: same losses,
same metrics, same weights (tested for every model on CPU). ``.pt`` files hold tensors, numbers and lists only and are
read with ``weights_only=True``: nothing in a state can execute code.
"""

from __future__ import annotations

import io
import json
import random
import shutil
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from missrec.checkpoint import load_checkpoint, load_into, save_checkpoint
from missrec.errors import CheckpointError, ConfigError
from missrec.io_utils import atomic_write_bytes, atomic_write_json
from missrec.logging_utils import get_logger
from missrec.modules.losses.auxiliary import AuxiliaryOptimizer
from missrec.trainers.state_folders import POSITION_FILE, load_newest, saved_states, state_folders, swap_in

# config keys a resumed run may change: where it runs and how it reports, and how long it may train
RESUMABLE_CHANGES = frozenset({"device", "show_progress", "epochs", "gpu_id", "use_gpu"})


def auxiliary_optimizers(model: nn.Module) -> dict[str, AuxiliaryOptimizer]:
    """Every :class:`AuxiliaryOptimizer` held by ``model`` or its submodules, by ``<module>.<attribute>`` name."""
    found = {}
    for prefix, module in model.named_modules():
        for name, value in vars(module).items():
            if isinstance(value, AuxiliaryOptimizer):
                found[f"{prefix}.{name}" if prefix else name] = value
    return found


def rng_state() -> dict[str, Any]:
    """The global random states as tensors, numbers and lists (loadable with ``weights_only=True``)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": pos,
                  "has_gauss": has_gauss, "cached": cached},
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
    }


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore :func:`rng_state`'s output (CUDA states only where the same number of devices is visible)."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))


def _torch_bytes(obj: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def save_epoch_state(
    output_dir: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    position: Mapping[str, Any],
) -> None:
    """Write a complete state into ``state.new`` and swap it in; an interrupted save leaves the previous states."""
    new = state_folders(output_dir)[0]
    shutil.rmtree(new, ignore_errors=True)  # left by a save cut short
    try:
        save_checkpoint(new / "model", model.state_dict(), {"kind": "epoch state", "epoch": position["epoch"]})
        optimizers = {
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict(),
            "auxiliary": {name: aux.state_dict() for name, aux in auxiliary_optimizers(model).items()},
        }
        atomic_write_bytes(new / "optimizer.pt", _torch_bytes(optimizers))
        atomic_write_bytes(new / "rng.pt", _torch_bytes(rng_state()))
        atomic_write_json(new / POSITION_FILE, dict(position))
    except BaseException:  # Ctrl-C, a full disk: nothing half-written stays behind
        shutil.rmtree(new, ignore_errors=True)
        raise
    swap_in(output_dir)


def load_epoch_state(
    output_dir: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    device: torch.device | str,
) -> dict[str, Any]:
    """Restore the newest state that loads (falling back to the one before, with a warning) and return its position.

    Raises:
        CheckpointError: no state, or none that loads.
    """

    def restore(folder: Path) -> None:
        state, _ = load_checkpoint(folder / "model", device=device)
        report = load_into(model, state)
        if report["missing"] or report["unexpected"]:
            raise CheckpointError(f"model keys unmatched: {report['missing'] or report['unexpected']}")
        optimizers = torch.load(folder / "optimizer.pt", map_location=device, weights_only=True)
        optimizer.load_state_dict(optimizers["optimizer"])
        scaler.load_state_dict(optimizers["scaler"])
        auxiliary = auxiliary_optimizers(model)
        if set(auxiliary) != set(optimizers["auxiliary"]):
            raise CheckpointError(f"auxiliary optimisers {sorted(optimizers['auxiliary'])}, the model has {sorted(auxiliary)}")
        for name, aux in auxiliary.items():
            aux.load_state_dict(optimizers["auxiliary"][name])
        set_rng_state(torch.load(folder / "rng.pt", weights_only=True))

    found = load_newest(output_dir, restore)
    if found is None:
        raise CheckpointError(f"{Path(output_dir) / 'state'}: no saved state to resume. Fix: start the run again "
                              "(--overwrite, or another --output)")
    folder, position = found
    get_logger().info(f"resumed from {folder}: {position['epoch']} epoch(s) done")
    return position


def remove_epoch_states(output_dir: str | Path) -> None:
    """Delete the states of a finished run (its results and best checkpoint are what remains)."""
    for folder in state_folders(output_dir):
        shutil.rmtree(folder, ignore_errors=True)


def config_changes(saved: Mapping[str, Any], current: Mapping[str, Any], explicit_keys: Collection[str] = (),
                   ignored: Collection[str] = ()) -> tuple[list[str], set[str], set[str]]:
    """Compare a run's saved ``config.json`` with the configuration the same command builds now (both JSON values).

    Returns ``(changed, added, removed)``: the keys whose values differ (sorted), the keys the saved run predates
    (absent from it, and set in none of ``explicit_keys``: they are at their defaults, so no change) and the keys the
    code no longer has (absent from ``current``: read by nothing, so no change either). ``ignored`` keys never count.
    """
    added = {k for k in current.keys() - saved.keys() if k not in explicit_keys}
    removed = saved.keys() - current.keys()
    skip = set(ignored) | added | removed
    changed = sorted(k for k in set(saved) | set(current) if k not in skip and saved.get(k) != current.get(k))
    return changed, added, set(removed)


def check_resume(output_dir: str | Path, config: Mapping[str, Any], explicit_keys: Collection[str] = ()) -> None:
    """Before a resumed run reads any data: the folder holds an unfinished run's state, and that run's
    ``config.json`` equals this configuration except for :data:`RESUMABLE_CHANGES` and changes of the code's keys: a
    key the saved run predates (absent from its ``config.json``, added to the props since) is no change when this run
    leaves it at its default, i.e. sets it in none of ``explicit_keys`` (its overrides, flags and extra props files);
    a key the code no longer has (absent from this configuration) is read by nothing, so it is no change either."""
    folder = Path(output_dir)
    if (folder / "results.json").is_file():
        raise ConfigError(f"--resume: {folder} holds a finished run (results.json), nothing to resume. Fix: read "
                          "its results, or start a new run with another --output (or --overwrite)")
    if not saved_states(folder):
        raise ConfigError(f"--resume: no saved state in {folder / 'state'} (nor state.old), so there is nothing to "
                          "resume. Fix: pass the --output of the run to continue, or drop --resume")
    try:
        saved = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"--resume: {folder / 'config.json'} is missing or unreadable ({e}), so the run cannot be "
                          "checked to be the same. Fix: start the run again (--overwrite)") from e
    current = json.loads(json.dumps(dict(config), default=str))
    changed, added, removed = config_changes(saved, current, explicit_keys, RESUMABLE_CHANGES)
    if changed:
        shown = ", ".join(f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in changed[:4])
        raise ConfigError(f"--resume: {folder} holds a run with another configuration ({shown}"
                          f"{f' and {len(changed) - 4} more' if len(changed) > 4 else ''}); continuing it would mix "
                          "two runs. Fix: resume with the same command, or start a new run with another --output")
    if added:
        get_logger().info(f"resuming a run saved before these keys existed; they keep their defaults: "
                          f"{', '.join(f'{k}={current[k]!r}' for k in sorted(added))}")
    if removed:
        get_logger().info(f"resuming a run saved with keys this code no longer has (ignored): "
                          f"{', '.join(f'{k}={saved[k]!r}' for k in sorted(removed))}")
