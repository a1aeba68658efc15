"""The resumable state of a pre-training run: saved so that a kill or Ctrl-C at any moment leaves a complete state,
loaded with a fall-back to the previous one when the newest cannot be read.

Layout under the run folder: ``state/`` (the newest complete state), ``state.old/`` (the one before, kept as the
fall-back: twice the disk of one state) and, only while a save is in progress, ``state.new/``. A state is complete
when its ``position.json`` (written last, atomically) is there: epoch, step in the epoch, global step, the run's id
(the checkpoints it writes carry it) and the running loss sums of the epoch in progress (so that a mid-epoch resume
logs the same epoch loss as an uninterrupted run).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from accelerate import Accelerator

from missrec.errors import CheckpointError
from missrec.io_utils import atomic_write_json
from missrec.logging_utils import get_logger

STATE_DIR = "state"
POSITION_FILE = "position.json"
POSITION_KEYS = ("epoch", "step", "global_step")


def state_folders(output_dir: str | Path) -> list[Path]:
    """Where a state may be, newest first: ``state.new`` (complete only after a kill between its last write and
    the swap), ``state``, ``state.old``."""
    base = Path(output_dir) / STATE_DIR
    return [base.with_name(STATE_DIR + ".new"), base, base.with_name(STATE_DIR + ".old")]


def read_position(folder: Path) -> dict[str, Any]:
    """The position of a complete state; ``ValueError`` (with the reason) when it is missing or unreadable."""
    path = folder / POSITION_FILE
    try:
        position = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path.name} unreadable: {e}") from e
    if not isinstance(position, dict) or not all(isinstance(position.get(k), int) for k in POSITION_KEYS):
        raise ValueError(f"{path.name} lacks {list(POSITION_KEYS)}")
    return position


def saved_states(output_dir: str | Path) -> list[Path]:
    """Folders holding a (possibly unreadable) state with a ``position.json``, newest first."""
    return [f for f in state_folders(output_dir) if (f / POSITION_FILE).is_file()]


def latest_position(output_dir: str | Path) -> dict[str, Any] | None:
    """The position of the newest state whose ``position.json`` reads, or ``None``."""
    for folder in saved_states(output_dir):
        try:
            return read_position(folder)
        except ValueError:
            continue
    return None


class StateKeeper:
    """Save and load one run's resumable state through Accelerate (model, optimiser, RNG, data position).

    Args:
        accelerator: the run's Accelerator (every process takes part in saves and loads).
        output_dir: the run folder.
    """

    def __init__(self, accelerator: Accelerator, output_dir: str | Path) -> None:
        self.accelerator = accelerator
        self.new, self.state_dir, self.old = state_folders(output_dir)

    def save(self, position: Mapping[str, Any]) -> None:
        """Write a fresh state into ``state.new``, then swap it in (``state`` -> ``state.old``). An interrupted
        save removes its half-written folder: the previous states stay as they were."""
        acc = self.accelerator
        main = acc.is_main_process
        if main and self.new.exists():
            shutil.rmtree(self.new)  # left by a save cut short
        acc.wait_for_everyone()
        try:
            acc.save_state(str(self.new))
            acc.wait_for_everyone()
            if main:
                atomic_write_json(self.new / POSITION_FILE, dict(position))
        except BaseException:  # Ctrl-C, a full disk: nothing half-written stays behind
            if main:
                shutil.rmtree(self.new, ignore_errors=True)
            raise
        if main:
            if self.state_dir.exists():
                shutil.rmtree(self.old, ignore_errors=True)
                self.state_dir.rename(self.old)
            self.new.rename(self.state_dir)
        acc.wait_for_everyone()

    def load(self) -> dict[str, Any] | None:
        """Restore the newest state that loads and return its position; ``None`` when there is no state.

        A state that cannot be read (a corrupt file, an unreadable position) is skipped with a warning naming it
        and the one falling back to; when none loads, one :class:`CheckpointError`.
        """
        folders = saved_states(self.state_dir.parent)
        if not folders:
            return None
        logger, problems = get_logger(), []
        for i, folder in enumerate(folders):
            try:
                position = read_position(folder)
                self.accelerator.load_state(str(folder))
            except Exception as e:  # noqa: BLE001 - safetensors, torch and pickle errors of a damaged state
                reason = " ".join(str(e).split())[:200]
                problems.append(f"{folder.name}: {type(e).__name__}: {reason}")
                if i + 1 < len(folders):
                    logger.warning(f"{folder}: the saved state cannot be read ({reason}); falling back to {folders[i + 1]}")
                continue
            logger.info(f"resumed from {folder}: epoch {position['epoch']}, step {position['step']} "
                        f"(global {position['global_step']})")
            return position
        raise CheckpointError(
            f"{self.state_dir}: the saved state cannot be resumed ({'; '.join(problems)}) and no earlier complete "
            "state is left. Fix: start the run again in a new folder (another --output, or --overwrite)"
        )
