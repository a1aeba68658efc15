"""The run logger: messages to stdout and to ``<output_dir>/log.txt`` (never to the working directory)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

LOGGER_NAME = "missrec"


def run_logger(output_dir: str | Path | None = None, level: int = logging.INFO) -> logging.Logger:
    """(Re)configure the ``missrec`` logger for one run and return it."""
    reset_run_logger()
    logger = logging.getLogger(LOGGER_NAME)
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


def reset_run_logger() -> None:
    """Detach and close every handler: nothing of an earlier run (its ``log.txt``) receives this run's messages."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def log_to_run_file(message: str) -> None:
    """Append ``message`` to the run's ``log.txt`` (its file handlers only: the console already shows it).

    A failing write (the disk that just filled up) is ignored: the message is on stderr already.
    """
    record = logging.LogRecord(LOGGER_NAME, logging.ERROR, __file__, 0, message, None, None)
    for handler in logging.getLogger(LOGGER_NAME).handlers:
        if isinstance(handler, logging.FileHandler):
            try:  # not emit(): logging would print its own traceback on a failing write
                handler.stream.write(handler.format(record) + handler.terminator)
                handler.stream.flush()
            except (OSError, ValueError, AttributeError):  # full disk, closed or never-opened stream
                pass
