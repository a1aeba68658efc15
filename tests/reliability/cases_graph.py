"""General (graph) datasets: empty or unsplit interactions, bad ids and features, a diverging loss."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.reliability.commands import finetune, graph
from tests.reliability.harness import Case, Ctx
from tests.reliability.world import with_graph, with_tiny

INTER = "planted.inter"


def graph_edit(change, manifest: bool = False):
    """A builder: the planted MMRec folder (with a manifest written first if asked), then ``change(folder)``."""

    def build(case_dir: Path, world) -> Ctx:
        ctx = with_graph(case_dir, world)
        folder = ctx.data / "planted"
        if manifest:
            from missrec.data.prepare.checksums import write_manifest

            write_manifest(folder / "planted.sha256", sorted(folder.iterdir()))
        change(folder)
        return ctx

    return build


def _inter(fn):
    def change(folder: Path) -> None:
        path = folder / INTER
        head, *rows = path.read_text().splitlines()
        path.write_text("\n".join([head, *fn(rows)]) + "\n")

    return change


def _relabel(old: str, new: str):
    return _inter(lambda rows: [r[: r.rfind("\t")] + "\t" + new if r.endswith("\t" + old) else r for r in rows])


def _npy(name: str, fn):
    def change(folder: Path) -> None:
        x = np.load(folder / name)
        np.save(folder / name, fn(x))

    return change


def _set(value, row=2):
    def fn(x):
        x = x.copy()
        x[row, 0] = value
        return x

    return fn


def _pickled(folder: Path) -> None:
    np.save(folder / "image_feat.npy", np.array([{"a": 1}] * 48, dtype=object), allow_pickle=True)


def _results(ctx: Ctx, printed: str) -> None:
    assert (ctx.dir / "out" / "results.json").is_file()


CASES = [
    Case("graph-inter-empty-file", "graph", graph_edit(lambda f: (f / INTER).write_text("")), graph(),
         "planted.inter: expected a header", note="an empty graph .inter"),
    Case("graph-inter-header-only", "graph", graph_edit(_inter(lambda rows: [])), graph(), "found U=0"),
    Case("graph-no-validation-rows", "graph", graph_edit(_relabel("1", "0")), graph(), "no validation rows",
         absent=("out/results.json",), note="no validation rows"),
    Case("graph-no-test-rows", "graph", graph_edit(_relabel("2", "0")), graph(), "no test rows",
         absent=("out/results.json",)),
    Case("graph-folder-missing", "graph", with_graph, graph(dataset="plantd"), "expected plantd.inter (MMRec)"),
    Case("graph-unknown-format", "graph", with_graph, graph(data_format="csv"), "unknown data_format 'csv'"),
    Case("graph-non-integer-user", "graph", graph_edit(_inter(lambda rows: ["u7\t1\t5\t0\t0", *rows])), graph(),
         "an integer userID"),
    Case("graph-bad-split-label", "graph", graph_edit(_inter(lambda rows: [*rows, "1\t1\t5\t0\t3"])), graph(),
         "x_label in {0, 1, 2}"),
    Case("graph-feature-rows-short", "graph", graph_edit(_npy("text_feat.npy", lambda x: x[:10])), graph(),
         "the same number of rows in every feature file"),
    Case("graph-feature-nan", "graph", graph_edit(_npy("text_feat.npy", _set(np.nan))), graph(), "NaN/inf"),
    Case("graph-feature-pickled", "graph", graph_edit(_pickled), graph(), "a numeric .npy array"),
    Case("graph-feature-extreme", "graph", graph_edit(_npy("image_feat.npy", _set(3e38))), graph(model="VBPR"),
         "image_feat.npy: expected feature values of magnitude"),
    Case("graph-modality-files-not-mapping", "graph", with_graph, graph(modality_files="[a, b]"),
         "modality_files must be a mapping"),
    Case("graph-manifest-edited", "graph", graph_edit(_inter(lambda rows: rows[:-1]), manifest=True), graph(),
         "planted.inter: expected the file listed in planted.sha256"),
    Case("graph-topk-above-items", "graph", with_graph, graph(topk="[5,10,100]"), "topk 100 is not below the number of items (48)",
         kind="warn"),
    Case("graph-trains", "graph", with_graph, graph(model="LightGCN"), kind="ok", check=_results),
    Case("graph-nan-loss", "graph", with_graph, graph(learning_rate=1e30, reg_weight=0), "loss is nan",
         note="a NaN loss: name the likely cause"),
    Case("finetune-nan-loss", "graph", with_tiny, finetune(learning_rate=1e30), "loss is nan"),
]
