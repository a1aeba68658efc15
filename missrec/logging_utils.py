"""The run logger: messages to stdout and to ``<output_dir>/log.txt`` (never to the working directory)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

LOGGER_NAME = "missrec"


def run_logger(output_dir: str | Path | None = None, level: int = logging.INFO) -> logging.Logger:
    """(Re)configure the ``missrec`` logger for one run and return it."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(level)
    logger.propagate = False
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    stream = logging.StreamHandler(sys.stdout)
    stream.setFormatter(fmt)
    logger.addHandler(stream)
    if output_dir is not None:
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        file = logging.FileHandler(Path(output_dir) / "log.txt", encoding="utf-8")
        file.setFormatter(fmt)
        logger.addHandler(file)
    return logger


def get_logger() -> logging.Logger:
    """The ``missrec`` logger (unconfigured it stays silent below WARNING)."""
    return logging.getLogger(LOGGER_NAME)
