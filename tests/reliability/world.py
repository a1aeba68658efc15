"""Inputs the cases start from, built once per session on tiny data, and helpers that copy them into a case folder.

* ``data/tiny``: a 48-item benchmark (:func:`tests.conftest.make_benchmark`);
* ``runs/missrec``, ``runs/unisrec``: one-epoch inductive fine-tuning runs whose ``checkpoints/best`` serve as
  pre-trained checkpoints (and the MISSRec folder as "a finished run");
* ``corpus``: the two-domain pre-training corpus ``AB`` (:func:`tests.trainers.corpus.make_corpus`);
* ``pretrain``: a one-epoch pre-training run on it (``run`` with its state, ``saved`` with ``MISSRec-AB-1``) and
  its per-epoch ``history.json``;
* ``graph``: a planted MMRec-format general dataset.

The cases never write here: every builder copies what it needs into the case's own folder.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import TINY_MODEL, make_benchmark
from tests.reliability.harness import Ctx
from tests.trainers.corpus import PRETRAIN_TINY, make_corpus

# fast settings every fine-tuning case adds (topk below the 48 items, so no case warns about it by accident)
FINETUNE_TINY = {**TINY_MODEL, "topk": [5, 10], "valid_metric": "NDCG@10"}
GRAPH_TINY = {"train_batch_size": 64, "eval_batch_size": 64, "learning_rate": 0.05, "embedding_size": 8,
              "device": "cpu", "topk": [5, 10], "valid_metric": "Recall@10", "show_progress": False}
PRETRAIN_FLAGS = {**PRETRAIN_TINY, "show_progress": False, "state_every_steps": 2}


@dataclass
class World:
    """Paths of the shared inputs (read-only for the cases)."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def finished_run(self) -> Path:
        return self.root / "runs" / "missrec"

    def checkpoint(self, model: str) -> Path:
        """Stem of the one-epoch inductive checkpoint of ``model`` (``MISSRec`` or ``UniSRec``)."""
        return self.root / "runs" / model.lower() / "checkpoints" / "best"

    @property
    def corpus(self) -> Path:
        return self.root / "corpus"

    @property
    def graph(self) -> Path:
        return self.root / "graph"

    @property
    def pretrain(self) -> Path:
        return self.root / "pretrain"


def build_world(root: Path) -> World:
    """Write every shared input under ``root`` (a few seconds)."""
    from missrec.data.general.synthetic import planted_dataset, write_mmrec_folder
    from missrec.runner import run_finetune

    world = World(root)
    make_benchmark(world.data)
    flags = {**TINY_MODEL, "data_path": str(world.data), "topk": [5, 10], "valid_metric": "NDCG@10"}
    with contextlib.redirect_stdout(io.StringIO()):
        for model in ("MISSRec", "UniSRec"):
            run_finetune(model, "tiny", "inductive", epochs=1, output_dir=root / "runs" / model.lower(), overrides=flags)
    make_corpus(world.corpus)
    from missrec.runner_pretrain import run_pretrain

    with contextlib.redirect_stdout(io.StringIO()):
        history = run_pretrain("MISSRec", "AB", epochs=1, output_dir=world.pretrain / "run", cpu=True,
                               checkpoint_dir=world.pretrain / "saved",
                               overrides={**PRETRAIN_FLAGS, "data_path": str(world.corpus)})
    (world.pretrain / "history.json").write_text(json.dumps(history))
    data = planted_dataset(seed=0)
    write_mmrec_folder(data, world.graph / "planted")
    return world


# ---- per-case copies ---------------------------------------------------------------------------------------------
def copy_tree(src: Path, dst: Path) -> Path:
    """Copy a folder (or a file) to ``dst``; returns ``dst``."""
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    return dst


def with_tiny(case_dir: Path, world: World) -> Ctx:
    """The case gets its own copy of the tiny benchmark at ``data/tiny``."""
    copy_tree(world.data / "tiny", case_dir / "data" / "tiny")
    return Ctx(case_dir, case_dir / "data")


def with_corpus(case_dir: Path, world: World) -> Ctx:
    """The case gets its own copy of the pre-training corpus at ``data/AB`` (+ ``data/domains``)."""
    copy_tree(world.corpus, case_dir / "data")
    return Ctx(case_dir, case_dir / "data")


def with_graph(case_dir: Path, world: World) -> Ctx:
    """The case gets its own copy of the planted MMRec dataset at ``data/planted``."""
    copy_tree(world.graph / "planted", case_dir / "data" / "planted")
    return Ctx(case_dir, case_dir / "data")


def no_data(case_dir: Path, world: World) -> Ctx:
    """No dataset at all: a case that must fail before reading data names the bad value, not the missing data."""
    (case_dir / "data").mkdir(parents=True, exist_ok=True)
    return Ctx(case_dir, case_dir / "data")


def flags(settings: dict, data: Path, **extra) -> list[str]:
    """``key=value`` overrides for the command line."""
    merged = {**settings, "data_path": str(data), **extra}
    return [f"{k}={v}" for k, v in merged.items()]


def chain(*builders):
    """A builder running several builders into one context (their ``extra`` merged)."""

    def build(case_dir: Path, world: World) -> Ctx:
        ctx = Ctx(case_dir)
        for b in builders:
            got = b(case_dir, world)
            ctx.data = got.data or ctx.data
            ctx.extra.update(got.extra)
        return ctx

    return build
