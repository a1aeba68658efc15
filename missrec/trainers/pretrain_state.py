"""The resumable state of a pre-training run: saved so that a kill or Ctrl-C at any moment leaves a complete state,
loaded with a fall-back to the previous one when the newest cannot be read.

Layout: :mod:`missrec.trainers.state_folders`. The ``position.json`` of a pre-training state holds the epoch, the
step in the epoch, the global step, the run's id (the checkpoints it writes carry it) and the running loss sums of the
epoch in progress (so that a mid-epoch resume logs the same epoch loss as an uninterrupted run).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from accelerate import Accelerator

from missrec.io_utils import atomic_write_json
from missrec.logging_utils import get_logger
from missrec.trainers.state_folders import POSITION_FILE, load_newest, state_folders, swap_in


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
            swap_in(self.state_dir.parent)
        acc.wait_for_everyone()

    def load(self) -> dict[str, Any] | None:
        """Restore the newest state that loads and return its position; ``None`` when there is no state.

        A state that cannot be read (a corrupt file, an unreadable position) is skipped with a warning naming it
        and the one falling back to; when none loads, one :class:`CheckpointError`.
        """
        found = load_newest(self.state_dir.parent, lambda folder: self.accelerator.load_state(str(folder)))
        if found is None:
            return None
        folder, position = found
        get_logger().info(f"resumed from {folder}: epoch {position['epoch']}, step {position['step']} "
                          f"(global {position['global_step']})")
        return position
