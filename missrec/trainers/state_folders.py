"""Where a run keeps its resumable state, and how a new state replaces the old one without a moment of having none.

Layout under the run folder: ``state/`` (the newest complete state), ``state.old/`` (the one before, kept as the
fall-back: twice the disk of one state) and, only while a save is in progress, ``state.new/``. A state is complete
when its ``position.json`` (written last, atomically) is there. Pre-training (:mod:`missrec.trainers.pretrain_state`)
and per-epoch training (:mod:`missrec.trainers.epoch_state`) share the layout.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from missrec.errors import CheckpointError
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


def swap_in(output_dir: str | Path) -> None:
    """Make the complete ``state.new`` the newest state: ``state`` -> ``state.old`` (the previous ``state.old`` is
    removed), ``state.new`` -> ``state``. A kill between the two renames leaves ``state.new`` and ``state.old``, which
    :func:`saved_states` still finds, newest first."""
    new, current, old = state_folders(output_dir)
    if current.exists():
        shutil.rmtree(old, ignore_errors=True)
        current.rename(old)
    new.rename(current)


def load_newest(output_dir: str | Path, restore: Callable[[Path], None]) -> tuple[Path, dict[str, Any]] | None:
    """Restore the newest state for which reading the position and ``restore(folder)`` succeed; a state that cannot
    be read (a corrupt file, an unreadable position) is skipped with a warning naming it and the one falling back to.

    Returns:
        ``(folder, position)``, or ``None`` when there is no state at all.

    Raises:
        CheckpointError: there are states, and none of them loads.
    """
    folders = saved_states(output_dir)
    if not folders:
        return None
    logger, problems = get_logger(), []
    for i, folder in enumerate(folders):
        try:
            position = read_position(folder)
            restore(folder)
        except Exception as e:  # noqa: BLE001 - safetensors, torch and pickle errors of a damaged state
            reason = " ".join(str(e).split())[:200]
            problems.append(f"{folder.name}: {type(e).__name__}: {reason}")
            if i + 1 < len(folders):
                logger.warning(f"{folder}: the saved state cannot be read ({reason}); falling back to {folders[i + 1]}")
            continue
        return folder, position
    raise CheckpointError(
        f"{Path(output_dir) / STATE_DIR}: the saved state cannot be resumed ({'; '.join(problems)}) and no earlier "
        "complete state is left. Fix: start the run again in a new folder (another --output, or --overwrite)"
    )
