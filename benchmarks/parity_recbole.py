"""The peer side of ``benchmarks/parity.py``: one run through RecBole 1.2.1's OWN pipeline.

``create_dataset`` -> ``data_preparation`` -> RecBole's model class -> RecBole's ``Trainer`` (early stopping,
full-sort evaluator), on copies of the files our runner reads. Only three things are adapted, each for a reason
that does not touch the numbers:

* numpy 2 removed ``np.float`` & co., which RecBole's evaluator still uses: the aliases are restored in this
  process only (RecBole's own ``compatibility_settings`` does it with names numpy 2 no longer has);
* RecBole's ``Trainer`` pickles checkpoints (torch >= 2.6 refuses to load them): the best state is kept in memory;
* RecBole keeps the FIRST ``seq_len`` items of a ``token_seq`` field, so the sequential split files are copied cut
  to their LAST ``MAX_ITEM_LIST_LENGTH`` items (what our loader keeps).

Run from ``benchmarks/parity.py``; it works in a scratch folder (RecBole writes ``log/``, ``saved/`` and
``log_tensorboard/`` into the working directory).
"""

from __future__ import annotations

import copy
import json
import warnings
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import missrec.compat  # noqa: F401  (scipy/pandas/torch fixes recbole needs on this stack; patches no numpy)

with warnings.catch_warnings():  # numpy 2 warns on every lookup of a removed alias
    warnings.simplefilter("ignore", FutureWarning)
    for _alias, _type in (
        ("float", float),
        ("int", int),
        ("bool", bool),
        ("object", object),
        ("str", str),
        ("long", int),
        ("complex", complex),
        ("unicode", str),
    ):
        if not hasattr(np, _alias):
            setattr(np, _alias, _type)  # this process only: RecBole's evaluator calls np.float

from recbole.config import Config  # noqa: E402
from recbole.data import create_dataset, data_preparation  # noqa: E402
from recbole.trainer import Trainer  # noqa: E402
from recbole.utils import get_model, init_seed  # noqa: E402


class InMemoryBestTrainer(Trainer):
    """RecBole's ``Trainer`` with the best state kept in memory instead of a pickled file, and epoch timing."""

    def __init__(self, config, model) -> None:
        super().__init__(config, model)
        self.best_state: dict | None = None
        self.best_epoch: int | None = None
        self.epoch_seconds: list[float] = []
        self.valid_curve: list[float] = []

    def _save_checkpoint(self, epoch, verbose=True, **kwargs) -> None:
        self.best_state = copy.deepcopy(self.model.state_dict())
        self.best_epoch = epoch

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        t0 = time.perf_counter()
        loss = super()._train_epoch(train_data, epoch_idx, loss_func, show_progress)
        self.epoch_seconds.append(time.perf_counter() - t0)
        return loss

    def _valid_epoch(self, valid_data, show_progress=False):
        score, result = super()._valid_epoch(valid_data, show_progress)
        self.valid_curve.append(float(score))
        return score, result


class NoArgvConfig(Config):
    """RecBole's ``Config`` minus reading ``sys.argv`` and its numpy-1 alias patch (done above for numpy 2)."""

    def compatibility_settings(self) -> None:
        return None

    def _load_cmd_line(self) -> dict:
        return {}


def cut_sequences(src: Path, dst: Path, max_len: int) -> None:
    """Copy an atomic file, keeping the last ``max_len`` items of its ``token_seq`` column."""
    lines = src.read_text().splitlines()
    header = lines[0].split("\t")
    seq_col = next(i for i, h in enumerate(header) if h.endswith(":token_seq"))
    out = [lines[0]]
    for line in lines[1:]:
        cols = line.split("\t")
        cols[seq_col] = " ".join(cols[seq_col].split(" ")[-max_len:])
        out.append("\t".join(cols))
    dst.write_text("\n".join(out) + "\n")


def run(config_dict: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Train and test one model with RecBole's pipeline; returns valid/test metrics, epochs and timings."""
    workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)
    config = NoArgvConfig(model=config_dict["model"], dataset=config_dict["dataset"], config_dict=config_dict)
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    trainer = InMemoryBestTrainer(config, model)
    best_valid, valid_result = trainer.fit(train_data, valid_data, saved=True, show_progress=False, verbose=False)
    model.load_state_dict(trainer.best_state)
    test_result = trainer.evaluate(test_data, load_best_model=False, show_progress=False)
    return {
        "valid": {k.lower(): float(v) for k, v in valid_result.items()},
        "test": {k.lower(): float(v) for k, v in test_result.items()},
        "best_epoch": trainer.best_epoch,
        "epochs_run": len(trainer.epoch_seconds),
        "train_seconds": trainer.epoch_seconds,
        "valid_curve": trainer.valid_curve,
    }


if __name__ == "__main__":
    spec = json.loads(Path(sys.argv[1]).read_text())
    result = run(spec["config"], Path(spec["workdir"]))
    Path(spec["result"]).write_text(json.dumps(result, indent=1))
