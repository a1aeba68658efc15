"""Benchmark folders that are missing, malformed, corrupted after their build, or inconsistent."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.reliability.commands import finetune, pretrain
from tests.reliability.harness import Case, Ctx
from tests.reliability.world import with_corpus, with_tiny

TINY = ("data/tiny",)


def _folder(ctx: Ctx) -> Path:
    return ctx.dir / "data" / "tiny"


def edit(change, manifest: bool = False):
    """A builder: the tiny benchmark, a manifest written first if asked (so ``change`` corrupts a built folder),
    then ``change(folder)``."""

    def build(case_dir: Path, world) -> Ctx:
        ctx = with_tiny(case_dir, world)
        folder = _folder(ctx)
        if manifest:
            from missrec.data.prepare.checksums import write_manifest

            write_manifest(folder / "tiny.sha256", sorted(p for p in folder.iterdir() if p.name != "tiny.sha256"))
        change(folder)
        return ctx

    return build


def _rewrite(name: str, fn):
    def change(folder: Path) -> None:
        path = folder / name
        path.write_text(fn(path.read_text(encoding="utf-8")), encoding="utf-8")

    return change


def _lines(fn):
    return lambda text: "".join(fn(text.splitlines(keepends=True)))


def _truncate_rows(keep: int):
    return _lines(lambda lines: lines[: 1 + keep])


def _flip_digit(text: str) -> str:
    head, _, body = text.partition("\n")
    i = next(i for i, c in enumerate(body) if c in "12345678")
    return head + "\n" + body[:i] + str(int(body[i]) + 1) + body[i + 1:]


def _features(name: str, fn):
    def change(folder: Path) -> None:
        path = folder / name
        dim = {"tiny.feat1CLS": 16, "tiny.feat3CLS": 8}[name]
        x = np.fromfile(path, dtype="<f4").reshape(-1, dim)
        fn(x)
        x.astype("<f4").tofile(path)

    return change


def _set(value, row=3):
    def fn(x):
        x[row, 1] = value

    return fn


def _remove(name: str):
    return lambda folder: (folder / name).unlink()


def _noop(folder: Path) -> None:
    return None


def _results_exist(ctx: Ctx, printed: str) -> None:
    assert (ctx.dir / "out" / "results.json").is_file(), "no results.json"


CASES = [
    # ---- missing or malformed files (already one line) ---------------------------------------------------------------
    Case("data-split-missing", "data", edit(_remove("tiny.valid.inter")), finetune(), "tiny.valid.inter: expected a benchmark split"),
    Case("data-split-no-header", "data", edit(_rewrite("tiny.train.inter", _lines(lambda ls: ls[1:]))), finetune(),
         "tiny.train.inter:1: expected a TAB-separated"),
    Case("data-split-short-row", "data", edit(_rewrite("tiny.test.inter", lambda t: t + "7\t1 2\n")), finetune(),
         "expected 3 TAB-separated fields"),
    Case("data-split-empty", "data", edit(_rewrite("tiny.valid.inter", _truncate_rows(0))), finetune(), "an empty split"),
    Case("data-feature-wrong-size", "data", edit(lambda f: (f / "tiny.feat3CLS").write_bytes(b"\0" * 36)), finetune(),
         "tiny.feat3CLS"),
    Case("data-feature-nan", "data", edit(_features("tiny.feat1CLS", _set(np.nan))), finetune(), "NaN/inf in 1 rows"),
    Case("data-feature-missing", "data", edit(_remove("tiny.feat3CLS")), finetune(), "tiny.feat3CLS: expected a feature file"),
    Case("data-item-token-unknown", "data", edit(_rewrite("tiny.test.inter", lambda t: t + "u99\t1 2\t4711\n")), finetune(),
         "absent from the id map"),
    Case("data-modality-dims-wrong", "data", edit(_noop), finetune(modality_dims="{text: 5}"), "divisible by"),
    Case("data-no-item2index", "data", edit(_remove("tiny.item2index")), finetune(), "an id map to infer"),
    Case("data-corpus-no-domain-list", "data", lambda d, w: _corpus_without(d, w, "AB.pt_datasets"), pretrain(),
         "AB.pt_datasets: expected the corpus's domain list"),
    Case("data-corpus-bad-token", "data", lambda d, w: _corpus_edit(d, w), pretrain(), "item tokens '<domain>-<index>'"),
    Case("data-corpus-manifest-edited", "data", lambda d, w: _corpus_edit(d, w, manifest=True), pretrain(),
         "AB.train.inter: expected the file listed in AB.sha256", untouched=("data/AB",)),
    # ---- a folder corrupted after its build: its manifest says so ----------------------------------------------------
    Case("data-manifest-split-truncated", "data", edit(_rewrite("tiny.train.inter", _truncate_rows(50)), manifest=True),
         finetune(), "tiny.train.inter: expected the file listed in tiny.sha256", untouched=TINY,
         note="a split cut at a line boundary loads although the manifest exists"),
    Case("data-manifest-split-edited", "data", edit(_rewrite("tiny.train.inter", _flip_digit), manifest=True), finetune(),
         "tiny.train.inter: expected the file listed in tiny.sha256", untouched=TINY),
    Case("data-manifest-feature-edited", "data", edit(_features("tiny.feat1CLS", _set(0.5)), manifest=True), finetune(),
         "tiny.feat1CLS: expected the file listed in tiny.sha256", untouched=TINY),
    Case("data-manifest-file-missing", "data", edit(_remove("tiny.feat3CLS"), manifest=True), finetune(),
         "tiny.feat3CLS"),
    Case("data-manifest-malformed", "data", edit(lambda f: (f / "tiny.sha256").write_text("not a manifest\n")), finetune(),
         "tiny.sha256:1: expected '<sha256>  <file>'"),
    Case("data-manifest-intact", "data", edit(_noop, manifest=True), finetune(), kind="ok", check=_results_exist),
    Case("data-manifest-extra-file", "data", edit(lambda f: (f / "notes.txt").write_text("mine"), manifest=True),
         finetune(), kind="ok", check=_results_exist),
    # ---- silently different data -------------------------------------------------------------------------------------
    Case("data-train-rows-tripled", "data", edit(_rewrite("tiny.train.inter", _lines(lambda ls: ls[:1] + ls[1:] * 3))),
         finetune(), "rows repeat an earlier row", kind="warn", note="tripled training rows are accepted"),
    Case("data-item2index-no-tab", "data", edit(_rewrite("tiny.item2index", lambda t: t.replace("\t", " ", 1))),
         finetune(), "tiny.item2index:1: expected 'raw_id<TAB>integer index'", note="an item2index line without a TAB"),
    Case("data-item2index-bad-index", "data", edit(_rewrite("tiny.item2index", lambda t: t.replace("\t0", "\tzero", 1))),
         finetune(), "expected 'raw_id<TAB>integer index'"),
    # ---- finite but extreme values (faiss aborts on them) ------------------------------------------------------------
    Case("data-feature-extreme", "data", edit(_features("tiny.feat1CLS", _set(3e38))), finetune(),
         "tiny.feat1CLS: expected feature values of magnitude", note="faiss aborts on finite but extreme features"),
    Case("data-feature-large", "data", edit(_features("tiny.feat3CLS", _set(-1e20, row=7))), finetune(),
         "tiny.feat3CLS: expected feature values of magnitude"),
]


def _corpus_without(case_dir: Path, world, name: str) -> Ctx:
    ctx = with_corpus(case_dir, world)
    (ctx.data / "AB" / "AB.sha256").unlink()  # an unbuilt corpus: the loader's own checks speak
    (ctx.data / "AB" / name).unlink()
    return ctx


def _corpus_edit(case_dir: Path, world, manifest: bool = False) -> Ctx:
    """A token of a domain the corpus does not have; with ``manifest``, a built corpus that lost its last row."""
    ctx = with_corpus(case_dir, world)
    path = ctx.data / "AB" / "AB.train.inter"
    text = path.read_text(encoding="utf-8")
    if manifest:
        path.write_text(text[: text.rstrip("\n").rfind("\n") + 1], encoding="utf-8")
        return ctx
    (ctx.data / "AB" / "AB.sha256").unlink()
    path.write_text(text + "u1\t0-1 0-2\t7-3\n", encoding="utf-8")
    return ctx
