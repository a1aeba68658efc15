"""Run folders: never mixed with another run, never half-written, the failure written into the run's log."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.commands import finetune, graph, on_full_disk, on_read_only, patched, read_json, then
from tests.reliability.harness import Case, Ctx
from tests.reliability.world import copy_tree, no_data, with_graph, with_tiny
from tests.reliability.cases_data import edit


def finished(builder=with_tiny, src: str = "finished_run"):
    """A builder: ``builder``'s data plus, at ``out``, a copy of a finished fine-tuning run folder."""

    def build(case_dir: Path, world) -> Ctx:
        ctx = builder(case_dir, world)
        copy_tree(getattr(world, src), case_dir / "out")
        ctx.extra["old_files"] = sorted(str(p.relative_to(case_dir)) for p in (case_dir / "out").rglob("*"))
        return ctx

    return build


def _with_files(*names: str):
    def build(case_dir: Path, world) -> Ctx:
        ctx = with_tiny(case_dir, world)
        (case_dir / "out").mkdir()
        for name in names:
            (case_dir / "out" / name).write_text("kept\n")
        return ctx

    return build


def _replaced(ctx: Ctx, printed: str) -> None:
    results = read_json(ctx.dir / "out" / "results.json")
    assert results["output_dir"] == str(ctx.dir / "out"), results["output_dir"]
    now = {str(p.relative_to(ctx.dir)) for p in (ctx.dir / "out").rglob("*")}
    stale = [f for f in ctx["old_files"] if f in now and "tensorboard/events" in f]
    assert not stale, f"files of the earlier run remain: {stale}"


def _log_has(fragment: str, folder: str = "out"):
    def check(ctx: Ctx, printed: str) -> None:
        log = ctx.dir / folder / "log.txt"
        assert log.is_file() and fragment in log.read_text(), f"log.txt lacks {fragment!r}"

    return check


def _results(ctx: Ctx, printed: str) -> None:
    assert (ctx.dir / "out" / "results.json").is_file()


def _two_run_folders(ctx: Ctx, printed: str) -> None:
    runs = sorted((ctx.dir / "cwd" / "runs").iterdir())
    assert len(runs) == 2 and all((r / "results.json").is_file() for r in runs), [r.name for r in runs]
    assert all(read_json(r / "results.json")["output_dir"].endswith(r.name) for r in runs)


def _as_file(case_dir: Path, world) -> Ctx:
    ctx = with_tiny(case_dir, world)
    (case_dir / "out").write_text("not a folder\n")
    return ctx


def _unknown_item(folder: Path) -> None:
    path = folder / "tiny.test.inter"
    path.write_text(path.read_text() + "u99\t1 2\t4711\n")


SAME_SECOND = patched("missrec.reporting:time.strftime", lambda *a: "20260101-000000",
                      then(finetune(out=None), finetune(out=None)))

CASES = [
    Case("output-reused", "output", finished(), finetune(), "--overwrite", untouched=("out",),
         note="reusing --output mixes two runs"),
    Case("output-reused-overwrite", "output", finished(), finetune("--overwrite"), kind="ok", check=_replaced),
    Case("output-overwrite-foreign-files", "output", _with_files("notes.txt", "log.txt"), finetune("--overwrite"),
         "files a run does not write", untouched=("out",)),
    Case("output-empty-folder", "output", _with_files(), finetune(), kind="ok", check=_results),
    Case("output-is-a-file", "output", _as_file, finetune(), "out: expected a run folder, found a file",
         untouched=("out",)),
    Case("output-under-a-file", "output", _as_file, finetune(out="out/run"), "cannot write", untouched=("out",)),
    Case("output-read-only", "output", no_data, on_read_only("ro", finetune(out="ro/run")), "Read-only file system",
         note="a read-only output disk (checked before the data is read)"),
    Case("output-disk-full", "output", with_tiny, on_full_disk(finetune()), "No space left on device",
         absent=("out/config.json", "out/.*.tmp", "out/checkpoints/*.safetensors"), note="a full output disk"),
    Case("output-failed-run-log", "output", edit(_unknown_item), finetune(), "absent from the id map",
         check=_log_has("absent from the id map"), note="a failed run leaves log.txt empty"),
    Case("output-default-folder-same-second", "output", with_tiny, SAME_SECOND, kind="ok", check=_two_run_folders),
    Case("output-graph-reused", "output", finished(with_graph), graph(), "--overwrite", untouched=("out",)),
]
