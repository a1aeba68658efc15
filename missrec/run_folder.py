"""Run folders: one run per folder, checked writable before any data is read.

A run refuses a folder that already holds files (another run's log, results, checkpoints or TensorBoard events
would be mixed with its own) unless asked to ``overwrite``, which clears it first; and never clears a folder holding
anything a run does not write (``--output ~`` with ``--overwrite`` must not empty a home folder). While a run uses
its folder it holds an exclusive lock on ``<folder>/.lock`` (``flock``; released when the process ends or starts its
next run), so a second process — a resume started while the run still goes on, the same ``--output`` twice — is
refused before it touches anything.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from missrec.errors import ConfigError, OutputError
from missrec.io_utils import write_probe
from missrec.trainers.epoch_state import check_resume
from missrec.trainers.state_folders import saved_states

LOCK_FILE = ".lock"
RUN_OUTPUTS = frozenset({
    "config.json", "log.txt", "results.json", "curves.png", "tensorboard", "checkpoints",
    "state", "state.old", "state.new", LOCK_FILE,
})  # fmt: skip
_held_lock: tuple[Path, int] | None = None  # (folder, fd) of the run this process is running


def is_run_output(name: str) -> bool:
    """A name a run writes into its folder (hidden ``.<name>.tmp`` files are atomic writes cut short)."""
    return name in RUN_OUTPUTS or (name.startswith(".") and name.endswith(".tmp"))


def ensure_writable(folder: str | Path, option: str = "--output") -> Path:
    """Create ``folder`` (and its parents) and write a probe file in it; one :class:`OutputError` if that fails."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: expected a run folder, found a file. Fix: choose another {option}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_probe(folder)
    except OSError as e:
        raise OutputError(f"{folder}: cannot write there ({e.strerror or e}). Fix: choose a writable {option}") from e
    return folder


def check_run_folder(folder: str | Path, overwrite: bool = False, keep: bool = False) -> list[str]:
    """Refuse ``folder`` for a new run unless it is absent, empty, kept (``keep``) or cleared (``overwrite``) and
    holding run outputs only; returns the entries ``overwrite`` would remove. Reads only."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: expected a run folder, found a file. Fix: choose another --output")
    entries = sorted(p.name for p in folder.iterdir() if p.name != LOCK_FILE) if folder.is_dir() else []
    if not entries or keep:
        return []
    if not overwrite:
        shown = ", ".join(entries[:4]) + (f" and {len(entries) - 4} more" if len(entries) > 4 else "")
        raise OutputError(f"{folder}: the run folder already holds {shown} (another run's files would be mixed "
                          "with this one's). Fix: choose another --output, or add --overwrite to replace them")
    foreign = [e for e in entries if not is_run_output(e)]
    if foreign:
        raise OutputError(f"{folder}: --overwrite clears a run folder, but this one holds files a run does not "
                          f"write ({', '.join(foreign[:3])}). Fix: choose another --output")
    return entries


def prepare_run_folder(folder: str | Path, overwrite: bool = False, keep: bool = False) -> Path:
    """Make ``folder`` ready for a new run: empty (or cleared with ``overwrite``) and writable.

    Args:
        folder: the run folder (``--output``).
        overwrite: clear a folder that holds an earlier run's outputs.
        keep: keep what the folder holds (a resumed pre-training run continues in its own folder).
    """
    folder = Path(folder)
    entries = check_run_folder(folder, overwrite, keep)
    ensure_writable(folder)
    lock_run_folder(folder)
    for name in entries:
        path = folder / name
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    return folder


def lock_run_folder(folder: str | Path) -> None:
    """Take the exclusive lock of ``folder`` for this process (releasing the lock of its previous run); one
    :class:`OutputError` naming the process that holds it."""
    global _held_lock
    folder = Path(folder).resolve()
    if _held_lock is not None and _held_lock[0] == folder:
        return
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _written_pid(fd)
        os.close(fd)
        raise OutputError(f"{folder}: another process (pid {holder}) is running in this run folder; two processes "
                          "would mix their files. Fix: wait for it to finish or stop it, or choose another --output") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    if _held_lock is not None:
        os.close(_held_lock[1])  # closing the descriptor releases the previous run's lock
    _held_lock = (folder, fd)


def _written_pid(fd: int) -> str:
    """The pid the lock's holder wrote into the lock file (``?`` when it wrote none yet)."""
    return os.read(fd, 32).decode(errors="replace").strip() or "?"


def lock_holder(folder: str | Path) -> str | None:
    """The pid (as written) of the process running in ``folder``, or ``None`` when no process holds its lock."""
    path = Path(folder) / LOCK_FILE
    if not path.is_file():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _written_pid(fd)
    finally:
        os.close(fd)  # also releases the shared lock when it was taken
    return None


def prepare_training_folder(folder: str | Path, overwrite: bool, resume: bool, config: Mapping[str, Any],
                            explicit_keys: Collection[str] = ()) -> Path:
    """The run folder of a fine-tuning or graph run: a resumed run keeps its own folder (checked to hold an
    unfinished run of the same configuration; ``explicit_keys``: the keys this run sets beyond the defaults, see
    :func:`~missrec.trainers.epoch_state.check_resume`); a new run gets an empty one, and a folder holding an
    unfinished run's state is never taken over without ``overwrite``."""
    if resume and overwrite:
        raise ConfigError("--resume continues the run in --output and --overwrite starts it again there. Fix: pass one")
    if resume:
        check_resume(folder, config, explicit_keys)
        return prepare_run_folder(folder, keep=True)
    if saved_states(folder) and not overwrite:
        raise OutputError(f"{folder}: holds an unfinished run's resumable state (state/). Fix: add --resume to "
                          "continue it, --overwrite to start again there, or choose another --output")
    return prepare_run_folder(folder, overwrite)
