"""Multi-domain pre-training corpus, FHCKM layout (UniSRec ``to_pretrain_atomic_files.py``; spec missrec.md §1.2).

Each domain is a benchmark folder ``<root>/<Domain>/`` built like a downstream dataset. The corpus
``<root>/<SHORT><suffix>/`` (``SHORT`` = first letters of the domain names: Food,Home,CDs,Kindle,Movies -> FHCKM)
holds:

* ``<corpus>.train.inter`` / ``.valid.inter`` / ``.test.inter``: the domains' rows one domain after the other, with
  domain i's (0-based, in ``.pt_datasets`` order) tokens rewritten ``"{i}-{uid}"`` and ``"{i}-{iid}"``;
* ``<corpus>.pt_datasets``: the comma-separated domain names, one line with no line break (UniSRec writes
  it so; a reader that splits without stripping would otherwise look for ``"Movies\\n.feat1CLS"``);
* ``<Domain>.<suffix>`` for every feature file (``.feat*``) and id map / text file of each domain, so a loader finds
  ``{data_path}/{domain}.{suffix}``. These are relative symbolic links into the domain folders by default (the
  features of the five FHCKM domains are about 0.9 GB per modality at 512-d), or copies with ``copy=True``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from missrec.data.features import infer_feature_dim
from missrec.data.prepare.amazon.build import BuildOptions, build_category
from missrec.data.prepare.amazon.categories import category_of, find_raw_files
from missrec.data.prepare.amazon.folder import BenchmarkFolder
from missrec.data.prepare.amazon.staging import check_folder, ensure_writable, refresh_manifest, staged_folder
from missrec.data.prepare.benchmark_writer import INTER_HEADER, SPLITS
from missrec.errors import data_error
from missrec.io_utils import atomic_open, atomic_write_json, atomic_write_text

# per-domain files placed into the corpus under <Domain>.<suffix>, besides every .feat* file
DOMAIN_FILES = ("item2index", "user2index", "text")


def short_name(domains: Sequence[str]) -> str:
    """First letter of each domain name, in order (UniSRec): ``["Food", "Home", ...] -> "FH..."``."""
    return "".join(d[0] for d in domains)


def domain_files(domain: BenchmarkFolder) -> list[Path]:
    """The files of a domain folder that the corpus exposes: its feature files, id maps and text."""
    # feature files are <ds>.feat<tag> (feat1CLS, feat3CLS, featKG ...); <ds>.features.json is their record, not one
    pattern = re.compile(re.escape(f"{domain.name}.") + r"feat[0-9A-Za-z]+")
    features = [p for p in domain.path.iterdir() if pattern.fullmatch(p.name) and p.is_file()]
    return sorted(features + [domain.file(s) for s in DOMAIN_FILES if domain.file(s).is_file()])


def build_corpus(
    domain_dirs: Sequence[str | Path], out_dir: str | Path, copy: bool = False
) -> dict[str, Any]:
    """Merge domain folders into the corpus folder ``out_dir`` (its name is the corpus dataset name).

    Returns:
        Per-domain and total counts of users, items and rows, written to ``<corpus>.stats.json`` too.
    """
    names = [Path(d).name for d in domain_dirs]
    if len(set(names)) != len(names):
        raise data_error("domains", "distinct domain names", ", ".join(names), "list each domain once")
    ensure_writable(Path(out_dir).parent)  # before the domains' files are read
    domains = [BenchmarkFolder(d) for d in domain_dirs]
    dims = feature_dims(domains)
    feature_sets = {tuple(sorted(d)) for d in dims.values()}
    out_dir = Path(out_dir)
    corpus = out_dir.name
    stats: dict[str, Any] = {"dataset": corpus, "domains": {}}
    with staged_folder(out_dir) as staging:
        rows = dict.fromkeys(SPLITS, 0)
        for split in SPLITS:
            with atomic_open(staging / f"{corpus}.{split}.inter") as out:
                out.write(INTER_HEADER)
                for i, domain in enumerate(domains):
                    rows[split] += _append_domain(domain.file(f"{split}.inter"), i, out)
        atomic_write_text(staging / f"{corpus}.pt_datasets", ",".join(names))
        for domain in domains:
            n_items, n_users = len(domain.item_ids()), len(domain.user_ids())
            stats["domains"][domain.name] = {"users": n_users, "items": n_items}
            for path in domain_files(domain):
                _place(path, staging / path.name, copy)
        stats["users"] = sum(d["users"] for d in stats["domains"].values())
        stats["items"] = sum(d["items"] for d in stats["domains"].values())
        stats["rows"] = rows
        stats["feature_dims"] = dims
        stats["feature_files"] = "copied" if copy else "symlinked"
        atomic_write_json(staging / f"{corpus}.stats.json", stats)
        refresh_manifest(staging, corpus)
    if len(feature_sets) > 1:
        stats["warning"] = f"the domains do not have the same feature files: {sorted(feature_sets)}"
    return stats


def feature_dims(domains: Sequence[BenchmarkFolder]) -> dict[str, dict[str, int]]:
    """``{domain: {suffix: d}}`` of every feature file, checked against the domain's item count.

    A file whose size is not a whole number of rows per item, or a suffix whose dimension differs between domains
    (one adaptor reads them all), is an error.
    """
    dims: dict[str, dict[str, int]] = {}
    by_suffix: dict[str, set[int]] = {}
    for domain in domains:
        n_items = len(domain.item_ids())
        recorded = domain.feature_info()
        dims[domain.name] = {}
        for path in domain_files(domain):
            suffix = path.name[len(domain.name) + 1 :]
            if not suffix.startswith("feat"):
                continue
            dim = infer_feature_dim(path, n_items)
            if suffix in recorded and recorded[suffix].get("dim") not in (None, dim):
                raise data_error(path, f"dimension {recorded[suffix]['dim']} (features.json)", f"{dim}",
                                 "re-extract the features of this domain")
            dims[domain.name][suffix] = dim
            by_suffix.setdefault(suffix, set()).add(dim)
    mixed = {suffix: sorted(d) for suffix, d in by_suffix.items() if len(d) > 1}
    if mixed:
        raise data_error("domains", "one feature dimension per suffix across the domains", f"{mixed}",
                         "extract every domain's features with the same encoder")
    return dims


def _append_domain(path: Path, domain: int, out: Any) -> int:
    """Copy one domain split into ``out`` with domain-prefixed tokens; returns the number of rows."""
    if not path.is_file():
        raise data_error(path, "a benchmark split file", "no such file", "build the domain folder first")
    n = 0
    with open(path, encoding="utf-8") as f:
        header = f.readline()
        if header != INTER_HEADER:
            raise data_error(f"{path}:1", repr(INTER_HEADER), repr(header), "rebuild the domain folder")
        for line_no, line in enumerate(f, 2):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 3:
                raise data_error(f"{path}:{line_no}", "3 TAB-separated fields", repr(line[:80]), "rebuild the domain")
            user, history, item = fields
            prefixed = " ".join(f"{domain}-{t}" for t in history.split(" ") if t)
            out.write(f"{domain}-{user}\t{prefixed}\t{domain}-{item}\n")
            n += 1
    return n


def _place(src: Path, dest: Path, copy: bool) -> None:
    if copy:
        shutil.copyfile(src, dest)
    else:
        # relative to the final folder, which sits where the staging folder does: the link survives the rename
        os.symlink(os.path.relpath(src.resolve(), dest.parent.resolve()), dest)


def ensure_domain(
    root: str | Path,
    name: str,
    raw_dir: str | Path | None,
    options: BuildOptions,
    category: str | None = None,
    rebuild: bool = False,
    show_progress: bool = True,
) -> tuple[Path, str]:
    """The domain folder ``<root>/<name>``: reused when its manifest verifies and it was built with ``options``,
    otherwise built from ``raw_dir``. Returns (folder, ``"reused"`` or ``"built"``)."""
    folder = Path(root) / name
    if folder.is_dir() and not rebuild:
        problems = check_folder(folder)
        stats_path = folder / f"{name}.stats.json"
        same = stats_path.is_file() and json.loads(stats_path.read_text()).get("options") == asdict(options)
        if not problems and (same or raw_dir is None):
            return folder, "reused"
        if raw_dir is None:
            raise data_error(folder, "a domain folder that matches its checksum manifest", "; ".join(problems[:3]),
                             "rebuild it: pass --raw-dir")
    if raw_dir is None:
        raise data_error(folder, "a built domain folder", "no such folder", "pass --raw-dir to build it")
    reviews, meta = find_raw_files(raw_dir, category_of(name, category))
    build_category(reviews, meta, folder, options, show_progress=show_progress)
    return folder, "built"
