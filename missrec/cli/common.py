"""What the entry points share: the run options every one of them takes, parsing as users write command lines,
and one-line errors."""

from __future__ import annotations

import argparse
import errno
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from missrec.errors import MissrecError
from missrec.logging_utils import log_to_run_file, reset_run_logger

INTERRUPTED = 130  # the shell's status for a process stopped by Ctrl-C (128 + SIGINT)


def add_run_options(parser: argparse.ArgumentParser, default_dataset: str, output_help: str, device: bool = True) -> None:
    """``-d/--dataset``, ``--device``, ``--epochs``, ``--output``, ``--overwrite``, ``--props`` and ``key=value``."""
    parser.add_argument("-d", "--dataset", default=default_dataset, help="dataset folder name under data_path (default: %(default)s)")
    if device:
        parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    parser.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: from the props)")
    parser.add_argument("--output", default=None, help=output_help)
    parser.add_argument("--overwrite", action="store_true", help="replace what --output (and, for pre-training, "
                        "its checkpoints) already holds; without it a run never overwrites another run's files")
    parser.add_argument("--resume", action="store_true", help="continue the unfinished run in --output from its "
                        "last saved state (the same command with --resume added)")
    parser.add_argument("--props", nargs="+", action="extend", default=[], metavar="FILE",
                        help="extra props yaml files, applied after the defaults (repeatable)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides (validated against props/*.yaml), e.g. learning_rate=0.0005; may come before, between or after options")


def parse_run_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse as users write: ``key=value`` overrides anywhere among the options, and overrides right after
    ``--props a.yaml`` taken as overrides (not as props files)."""
    args = parser.parse_intermixed_args(argv)
    props, moved = [], []
    for item in args.props:
        (moved if "=" in item and not Path(item).is_file() else props).append(item)
    args.props, args.overrides = props, [*args.overrides, *moved]
    return args


def run_reporting_errors(run: Callable[[], object]) -> int:
    """Call ``run``; a problem the user can act on becomes one ``error: ...`` line on stderr (also written to the
    run's ``log.txt`` when the run got that far) and exit status 2; Ctrl-C exits with 130 after one line."""
    reset_run_logger()
    try:
        run()
    except MissrecError as e:
        return _report(str(e), 2)
    except OSError as e:  # a read-only or full disk, a path under a file: the OS says which file
        return _report(_os_message(e), 2)
    except KeyboardInterrupt:
        return _report("interrupted (Ctrl-C); files written so far are complete (atomic writes). "
                       "Fix: rerun with --resume (and the same --output) to continue from the last saved state", INTERRUPTED)
    return 0


def _report(message: str, status: int) -> int:
    line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    print(f"error: {line}", file=sys.stderr)
    log_to_run_file(f"error: {line}")
    return status


def _os_message(e: OSError) -> str:
    where = e.filename if e.filename is not None else "a file"
    reason = e.strerror or type(e).__name__
    if e.errno == errno.ENOSPC:
        fix = "free disk space, or choose a folder on another disk with --output/--checkpoint-dir"
    elif e.errno in (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        fix = "choose a writable folder with --output/--checkpoint-dir (and data_path for the data)"
    else:
        fix = "check the path and the disk"
    return f"{where}: {reason}. Fix: {fix}"
