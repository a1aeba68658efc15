"""Pre-training: resuming, the resumable state under faults, and checkpoints another run wrote."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

from tests.reliability.commands import interrupted, on_read_only, pretrain, read_json
from tests.reliability.harness import Case, Ctx
from tests.reliability.world import PRETRAIN_FLAGS, copy_tree, with_corpus

SAVED = "saved/MISSRec-AB-1.safetensors"


def earlier_run(state: str = "keep", checkpoints: bool = True, out: str = "run"):
    """A builder: the corpus plus a copy of the shared one-epoch run at ``<out>`` (its state changed as asked:
    ``keep``, ``corrupt`` (weights cut short), ``corrupt-with-previous`` (a good ``state.old`` beside it),
    ``bad-position`` (position.json not JSON), ``stale-new`` (a half-written ``state.new``), ``none``) and,
    if asked, its checkpoint in ``saved``."""

    def build(case_dir: Path, world) -> Ctx:
        ctx = with_corpus(case_dir, world)
        run = case_dir / out
        copy_tree(world.pretrain / "run", run)
        if checkpoints:
            copy_tree(world.pretrain / "saved", case_dir / "saved")
        folder, previous = run / "state", run / "state.old"
        if state != "keep":
            shutil.rmtree(previous, ignore_errors=True)
        if state == "none":
            shutil.rmtree(folder)
        if state == "corrupt-with-previous":
            copy_tree(folder, previous)
        if state in ("corrupt", "corrupt-with-previous"):
            weights = folder / "model.safetensors"
            weights.write_bytes(weights.read_bytes()[:100])
        if state == "bad-position":
            (folder / "position.json").write_text('{"epoch": 1, "st')
        if state == "stale-new":
            (run / "state.new").mkdir()
            (run / "state.new" / "model.safetensors").write_bytes(b"\0" * 10)
        return ctx

    return build


def _foreign_checkpoint(case_dir: Path, world) -> Ctx:
    """The corpus plus ``saved/MISSRec-AB-1`` written by another run (no output folder of its own here)."""
    ctx = with_corpus(case_dir, world)
    copy_tree(world.pretrain / "saved", case_dir / "saved")
    return ctx


def _overwritten(ctx: Ctx, printed: str) -> None:
    meta = read_json(ctx.dir / "saved" / "MISSRec-AB-1.json")
    assert meta.get("run_id") and meta["run_id"] == read_json(ctx.dir / "run" / "state" / "position.json")["run_id"]


def _resumed_to(epoch: int):
    def check(ctx: Ctx, printed: str) -> None:
        assert (ctx.dir / "saved" / f"MISSRec-AB-{epoch}.safetensors").is_file(), "no final checkpoint"
        assert not (ctx.dir / "run" / "state.new").exists(), "state.new left behind"

    return check


def _interrupted_cleanly(ctx: Ctx, printed: str) -> None:
    run = ctx.dir / "run"
    assert not (run / "state.new").exists(), "state.new left behind"
    assert (run / "state" / "position.json").is_file(), "no complete state to resume from"


def _resume_mid_epoch(ctx: Ctx) -> int:
    """Stop after 4 optimiser steps (state saved every 2), resume, and keep the epoch's logged loss."""
    from missrec.runner_pretrain import run_pretrain

    kwargs = dict(epochs=1, output_dir=ctx.dir / "run", checkpoint_dir=ctx.dir / "saved", cpu=True,
                  overrides={**PRETRAIN_FLAGS, "data_path": str(ctx.data)})
    run_pretrain("MISSRec", "AB", max_steps=4, **kwargs)
    ctx.extra["history"] = run_pretrain("MISSRec", "AB", resume=True, **kwargs)
    return 0


def _same_loss_as_uninterrupted(ctx: Ctx, printed: str) -> None:
    reference = ctx["reference"]
    got = ctx["history"][0]["train_loss"]
    assert math.isclose(got, reference, rel_tol=1e-6), f"epoch loss {got} after resume, {reference} uninterrupted"


def _with_reference(case_dir: Path, world) -> Ctx:
    ctx = with_corpus(case_dir, world)
    ctx.extra["reference"] = read_json(world.pretrain / "history.json")[0]["train_loss"]
    return ctx


RESUME = ("--resume", "--epochs", "2")

CASES = [
    Case("pretrain-resume-nothing", "pretrain", _foreign_checkpoint, pretrain("--resume"), "no saved state in",
         untouched=("saved",), absent=("run",), note="--resume with nothing to resume starts from scratch"),
    Case("pretrain-resume-output-typo", "pretrain", earlier_run(), pretrain("--resume", out="rnu"), "no saved state in",
         untouched=("saved", "run"), absent=("rnu",)),
    Case("pretrain-state-without-resume", "pretrain", earlier_run(), pretrain(), "add --resume",
         untouched=("saved", "run")),
    Case("pretrain-foreign-checkpoint", "pretrain", _foreign_checkpoint, pretrain(), "--overwrite",
         untouched=("saved",), absent=("run",), note="overwrites another run's checkpoint"),
    Case("pretrain-foreign-checkpoint-overwrite", "pretrain", _foreign_checkpoint, pretrain("--overwrite"), kind="ok",
         check=_overwritten),
    Case("pretrain-output-not-empty", "pretrain", earlier_run(state="none"), pretrain(), "--overwrite",
         untouched=("saved", "run")),
    Case("pretrain-resume", "pretrain", earlier_run(), pretrain(*RESUME, epochs=None), kind="ok",
         check=_resumed_to(2)),
    Case("pretrain-resume-corrupt-state", "pretrain", earlier_run("corrupt-with-previous"),
         pretrain(*RESUME, epochs=None), "falling back to", kind="warn", check=_resumed_to(2),
         note="a corrupt resume state: fall back to the previous state with a warning"),
    Case("pretrain-resume-corrupt-only-state", "pretrain", earlier_run("corrupt"), pretrain(*RESUME, epochs=None),
         "cannot be resumed", untouched=("saved",)),
    Case("pretrain-resume-bad-position", "pretrain", earlier_run("bad-position"), pretrain(*RESUME, epochs=None),
         "cannot be resumed", untouched=("saved",)),
    Case("pretrain-resume-stale-new", "pretrain", earlier_run("stale-new"), pretrain(*RESUME, epochs=None), kind="ok",
         check=_resumed_to(2)),
    Case("pretrain-ctrl-c-during-state-save", "pretrain", with_corpus,
         interrupted("accelerate:Accelerator.save_state", pretrain(), after_calls=1, partial="model.safetensors"),
         "interrupted", rc=130, check=_interrupted_cleanly, note="a SIGINT during a state save leaves state.new behind"),
    Case("pretrain-mid-epoch-resume-loss", "pretrain", _with_reference, _resume_mid_epoch, kind="ok",
         check=_same_loss_as_uninterrupted, note="after a mid-epoch resume the epoch's loss averages only later steps"),
    Case("pretrain-nan-loss", "pretrain", with_corpus, pretrain(learning_rate=1e30), "loss is nan", absent=(SAVED,)),
    Case("pretrain-checkpoint-dir-read-only", "pretrain", with_corpus, on_read_only("saved", pretrain()),
         "Read-only file system", absent=("run/state",)),
]
