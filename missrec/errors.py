"""Errors a user can act on: each names the file or key, what was expected, what was found and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class MissrecError(Exception):
    """Base class: an input problem reported as one message, never a deep traceback."""


class DataError(MissrecError):
    """A data file is missing, malformed or inconsistent."""


class ConfigError(MissrecError):
    """A configuration key or value is invalid."""


class CheckpointError(MissrecError):
    """A checkpoint cannot be read safely or does not fit the model."""


class OutputError(MissrecError):
    """A run folder or checkpoint folder cannot be written, or holds another run's files."""


class TrainingError(MissrecError, ValueError):
    """Training cannot go on (a non-finite loss); the message names the likely cause."""


def data_error(path: object, expected: str, found: str, fix: str) -> DataError:
    """Build a :class:`DataError` in the house format: file, expected, found, fix."""
    return DataError(f"{path}: expected {expected}, found {found}. Fix: {fix}")


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Closest valid names to a misspelt ``name`` (case-insensitive), best first."""
    candidates = list(candidates)
    lowered = {c.lower(): c for c in candidates}
    return [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)]
