"""The commands a case runs: the three CLIs in process (``main(argv)``), a script in a subprocess, and faults
(a read-only or full disk, Ctrl-C) injected around a command."""

from __future__ import annotations

import builtins
import contextlib
import errno
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

from tests.reliability.harness import Ctx
from tests.reliability.world import FINETUNE_TINY, GRAPH_TINY, PRETRAIN_FLAGS, flags

Run = Callable[[Ctx], int]


def _format(args, ctx: Ctx) -> list[str]:
    return [str(a).format(dir=ctx.dir, data=ctx.data) for a in args]


def finetune(*args: str, out: str | None = "out", epochs: int | None = 1, dataset: str = "tiny", **extra) -> Run:
    """``finetune.py -d <dataset> [--output <case>/<out>] [--epochs N] <args> <tiny settings> <extra>``."""

    def run(ctx: Ctx) -> int:
        from missrec.cli.finetune import main

        argv = ["-d", dataset]
        argv += ["--output", str(ctx.dir / out)] if out else []
        argv += ["--epochs", str(epochs)] if epochs is not None else []
        return main([*argv, *_format(args, ctx), *flags(FINETUNE_TINY, ctx.data, **extra)])

    return run


def graph(*args: str, model: str = "BPR", out: str | None = "out", epochs: int | None = 1, dataset: str = "planted",
          **extra) -> Run:
    """``train_graph.py --model <model> -d <dataset> ... <tiny settings> <extra>``."""

    def run(ctx: Ctx) -> int:
        from missrec.cli.train_graph import main

        argv = ["--model", model, "-d", dataset]
        argv += ["--output", str(ctx.dir / out)] if out else []
        argv += ["--epochs", str(epochs)] if epochs is not None else []
        return main([*argv, *_format(args, ctx), *flags(GRAPH_TINY, ctx.data, **extra)])

    return run


def pretrain(*args: str, out: str | None = "run", saved: str = "saved", epochs: int | None = 1, dataset: str = "AB",
             **extra) -> Run:
    """``ddp_pretrain.py --cpu -d <dataset> --output <case>/<out> --checkpoint-dir <case>/<saved> ...``."""

    def run(ctx: Ctx) -> int:
        from missrec.cli.pretrain import main

        argv = ["--cpu", "-d", dataset, "--checkpoint-dir", str(ctx.dir / saved)]
        argv += ["--output", str(ctx.dir / out)] if out else []
        argv += ["--epochs", str(epochs)] if epochs is not None else []
        return main([*argv, *_format(args, ctx), *flags(PRETRAIN_FLAGS, ctx.data, **extra)])

    return run


def import_checkpoint(*args: str) -> Run:
    """``python -m missrec.checkpoint_import <args>`` in process."""

    def run(ctx: Ctx) -> int:
        from missrec.checkpoint_import import main

        return main(_format(args, ctx))

    return run


def script(name: str, *args: str, **extra) -> Run:
    """``python <repo>/<name> <args> <tiny settings>`` in a subprocess (exit status and stderr as a user sees them)."""

    def run(ctx: Ctx) -> int:
        from missrec.config import REPO_ROOT

        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
        argv = [sys.executable, str(REPO_ROOT / name), *_format(args, ctx), *flags(FINETUNE_TINY, ctx.data, **extra)]
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        return done.returncode

    return run


# ---- faults ------------------------------------------------------------------------------------------------------
def _inside(path, folder: Path) -> bool:
    try:
        return Path(os.path.abspath(os.fsdecode(path))).is_relative_to(folder)
    except TypeError:  # a file descriptor
        return False


def _refuse(path) -> OSError:
    return OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(path))


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Writes, creations and renames under ``folder`` fail with EROFS, as on a read-only mount (we run as root,
    so permissions cannot simulate it)."""
    folder = Path(os.path.abspath(folder))
    real_open, real_os_open, real_mkdir, real_replace, real_rename = (
        builtins.open, os.open, os.mkdir, os.replace, os.rename)

    def fake_open(file, mode="r", *a, **k):
        if isinstance(file, (str, bytes, os.PathLike)) and set(mode) & set("wax+") and _inside(file, folder):
            raise _refuse(file)
        return real_open(file, mode, *a, **k)

    def fake_os_open(path, flags, *a, **k):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and _inside(path, folder):
            raise _refuse(path)
        return real_os_open(path, flags, *a, **k)

    def fake_mkdir(path, *a, **k):
        if _inside(path, folder):
            raise _refuse(path)
        return real_mkdir(path, *a, **k)

    def fake_move(real):
        def move(src, dst, *a, **k):
            if _inside(dst, folder):
                raise _refuse(dst)
            return real(src, dst, *a, **k)
        return move

    with mock.patch.object(builtins, "open", fake_open), mock.patch.object(io, "open", fake_open), \
            mock.patch.object(os, "open", fake_os_open), mock.patch.object(os, "mkdir", fake_mkdir), \
            mock.patch.object(os, "replace", fake_move(real_replace)), mock.patch.object(os, "rename", fake_move(real_rename)):
        yield


def on_read_only(folder: str, command: Run) -> Run:
    """Run ``command`` with ``<case>/<folder>`` read-only."""

    def run(ctx: Ctx) -> int:
        with read_only(ctx.dir / folder):
            return command(ctx)

    return run


def on_full_disk(command: Run) -> Run:
    """Run ``command`` with every ``fsync`` failing with ENOSPC (the moment a full disk shows up for an atomic
    write)."""

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def run(ctx: Ctx) -> int:
        with mock.patch.object(os, "fsync", no_space):
            return command(ctx)

    return run


def interrupted(target: str, command: Run, after_calls: int = 0, partial: str | None = None) -> Run:
    """Run ``command`` with ``target`` (``module:Class.method``) raising KeyboardInterrupt (Ctrl-C) after
    ``after_calls`` normal calls; with ``partial``, the interrupted call first writes that file into its folder
    argument (a save cut short)."""
    module, attr = target.split(":")
    owner_name, method = attr.split(".")

    def run(ctx: Ctx) -> int:
        import importlib

        owner = getattr(importlib.import_module(module), owner_name)
        real = getattr(owner, method)
        calls = {"n": 0}

        def wrapper(self, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] > after_calls:
                if partial and args:
                    Path(args[0]).mkdir(parents=True, exist_ok=True)
                    (Path(args[0]) / partial).write_bytes(b"\0" * 16)
                raise KeyboardInterrupt
            return real(self, *args, **kwargs)

        with mock.patch.object(owner, method, wrapper):
            return command(ctx)

    return run


def patched(target: str, value, command: Run) -> Run:
    """Run ``command`` with ``target`` (``module:attr``) replaced by ``value``."""
    module, attr = target.split(":")

    def run(ctx: Ctx) -> int:
        with mock.patch(f"{module}.{attr}", value):
            return command(ctx)

    return run


def then(*commands: Run) -> Run:
    """Run commands in order; the exit status is the last one's (an earlier failure stops the chain)."""

    def run(ctx: Ctx) -> int:
        rc = 0
        for command in commands:
            rc = command(ctx)
            if rc not in (0, None):
                return rc
        return rc

    return run


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
