"""What the entry points share: the run options every one of them takes, and one-line errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from missrec.errors import MissrecError


def add_run_options(parser: argparse.ArgumentParser, default_dataset: str, output_help: str, device: bool = True) -> None:
    """``-d/--dataset``, ``--device``, ``--epochs``, ``--output``, ``--props`` and ``key=value`` overrides."""
    parser.add_argument("-d", "--dataset", default=default_dataset, help="dataset folder under data_path (default: %(default)s)")
    if device:
        parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    parser.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: from the props)")
    parser.add_argument("--output", default=None, help=output_help)
    parser.add_argument("--props", nargs="*", default=[], help="extra props yaml files, applied after the defaults")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides (validated against props/*.yaml), e.g. learning_rate=0.0005")


def run_reporting_errors(run: Callable[[], object]) -> int:
    """Call ``run``; a :class:`MissrecError` becomes one ``error: ...`` line on stderr and exit status 2."""
    try:
        run()
    except MissrecError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
