"""Hyper-parameter grid search for a graph model, selected on validation: every combination, several seeds, resumable.

    python scripts/grid.py --model BM3 -d ML100K_general                  # its published grid (props/grids.yaml)
    python scripts/grid.py --model LightGCN --seeds 2020 2021 2022 --jobs 2  # three seeds, two runs at a time
    python scripts/grid.py --model MICRO --grid loss_ratio=0.01,0.03,0.1  # a grid of your own (replaces the published)
    python scripts/grid.py --model BM3 --status                           # where each run stands; runs nothing
    python scripts/grid.py --model BM3 --summary-only                     # rebuild the summary from finished runs

Each (combination, seed) is ``train_graph.py --model M -d D key=value ... seed=S`` with early stopping on validation,
written to ``results/runs/grid/<model>-<dataset>/<setting>-seed<S>/``; finished runs are skipped and interrupted ones
continue from their last epoch, as in ``scripts/reproduce.py``. Every combination's configuration is validated before
the first run starts. The summary (``results/grid/<model>-<dataset>.md`` and ``.json``) lists every setting with
the mean ± std over seeds of its best validation score and of its test metrics, and **selects the setting with the
best mean validation score** (the ``valid_metric`` of the props, Recall@20), among the settings whose seeds have all
finished. The summary covers the grid asked for (``--name`` writes it under another name), over the seeds it had
and those asked (``--seeds`` adds seeds, never narrows them); every setting's runs
stay, and a later grid containing a setting reuses its finished seeds (e.g. more seeds for the selected setting
alone), unless they were made with another configuration than the setting's today: those are named, not averaged.
MMRec's ``quick_start`` selects by the *test* score instead (graph_models.md §2.1, its issue #64), which reads the
test split to choose; the summary names the setting that rule would pick, only to show whether the choice would
differ, never to report it.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import re
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from missrec.config import parse_overrides
from missrec.errors import ConfigError, MissrecError
from missrec.io_utils import atomic_write_json, atomic_write_text
from missrec.runner_general import DEFAULT_DATASET, general_models


def _load_reproduce():
    """``scripts/reproduce.py`` as a module (its run launcher, interrupt handling and status are shared)."""
    if "reproduce" in sys.modules:
        return sys.modules["reproduce"]
    spec = importlib.util.spec_from_file_location("reproduce", Path(__file__).resolve().parent / "reproduce.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["reproduce"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


reproduce = _load_reproduce()
from archive import load_archive, pool_groups  # noqa: E402  (scripts/, on the path reproduce.py sets)

ROOT = reproduce.ROOT
GRIDS_FILE = ROOT / "props" / "grids.yaml"
TEST_METRICS = ["recall@10", "ndcg@10", "recall@20", "ndcg@20"]
SCALAR = re.compile(r"[A-Za-z0-9_.+-]+")  # a grid value: it becomes part of a folder name
NAME = re.compile(r"[A-Za-z0-9_+=,-][A-Za-z0-9_.+=,-]*")  # a summary's file name


def published_grid(model: str, path: Path = GRIDS_FILE) -> dict[str, list[str]]:
    """The model's grid from ``props/grids.yaml``: ``{key: [value as typed, ...]}`` (values kept as strings)."""
    grids = yaml.load(path.read_text(), Loader=yaml.BaseLoader) or {}  # BaseLoader: every scalar stays a string
    if model not in grids:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        raise ConfigError(f"{model} has no published grid in {shown} (it has: {sorted(grids)}). "
                          "Fix: give one, e.g. --grid learning_rate=1e-4,1e-3 reg_weight=1e-4,1e-3")
    return parse_grid([f"{key}={','.join(values)}" for key, values in grids[model].items()])


def parse_grid(items: list[str]) -> dict[str, list[str]]:
    """``["n_layers=1,2", "reg_weight=0.1,0.01"]`` -> ``{"n_layers": ["1", "2"], "reg_weight": ["0.1", "0.01"]}``."""
    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        choices = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not key or not choices:
            raise ConfigError(f"--grid '{item}': expected key=value1,value2,... Fix: e.g. --grid reg_weight=0.1,0.01")
        if key in grid:
            raise ConfigError(f"--grid: key '{key}' given twice. Fix: list all its values once, comma-separated")
        odd = [v for v in choices if not SCALAR.fullmatch(v)]
        if odd:
            raise ConfigError(f"--grid '{item}': {odd[0]!r} is not a plain scalar (letters, digits, _ . + -); the "
                              "values name the runs' folders. Fix: search numbers, words or true/false; fix a list or "
                              "dict with --set")
        if len(set(choices)) < len(choices):
            raise ConfigError(f"--grid '{item}': a value is listed twice. Fix: list each value once")
        grid[key] = choices
    return grid


def expand(grid: dict[str, list[str]]) -> list[dict[str, str]]:
    """Every combination of the grid, the last key varying fastest: ``[{key: value, ...}, ...]``."""
    keys = list(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]


def setting_name(setting: dict[str, str]) -> str:
    """``{"n_layers": "2", "reg_weight": "0.01"}`` -> ``n_layers=2,reg_weight=0.01`` (the runs' folder names)."""
    return ",".join(f"{k}={v}" for k, v in setting.items())


def check_settings(rows: list) -> str:
    """Build every setting's configuration as its run will (the row's command line, reading no data): one clear
    error before any run; returns the valid metric."""
    valid_metric = None
    for row in rows:
        try:
            config, _ = reproduce.row_config(row)
        except MissrecError as e:
            raise ConfigError(f"grid setting {row.name}: {e}") from e
        valid_metric = str(config["valid_metric"]).lower()
    return valid_metric


def grid_rows(model: str, dataset: str, settings: list[dict[str, str]], fixed: list[str]) -> list:
    """One ``reproduce.Row`` per combination: ``train_graph.py`` with the setting (and the fixed keys) as overrides."""
    return [
        reproduce.Row(
            setting_name(s), "train_graph.py",
            ("--model", model, "-d", dataset, *fixed, *(f"{k}={v}" for k, v in s.items())),
            {"model": model, "dataset": dataset, **s},
        )
        for s in settings
    ]


def table_name(model: str, dataset: str, fixed: list[str] = ()) -> str:
    """The runs' folder under ``runs/``: ``grid/<model>-<dataset>``, and a sub-folder named by the ``--set``
    overrides when there are any, so runs made under other fixed keys are never taken for these."""
    return f"grid/{model}-{dataset}" + (f"/{','.join(fixed)}" if fixed else "")


def summary_rows(summary: dict[str, Any]) -> list:
    """The rows a grid summary covers, one per setting, rebuilt from its table (``grid/<model>-<dataset>[/<fixed>]``)
    and its settings."""
    parts = summary["table"].split("/")
    model, dataset = parts[1].rsplit("-", 1)
    fixed = parts[2].split(",") if len(parts) > 2 else []
    return grid_rows(model, dataset, [e["setting"] for e in summary["settings"].values()], fixed)


def summarise(out: Path, table: str, rows: list, seeds: list[int], valid_metric: str) -> dict[str, Any]:
    """Per setting: mean/std over the finished seeds of the best validation score and of every test metric; the
    setting selected on validation (complete settings only) and, for contrast, the one test selection would pick.
    A setting whose runs were made with another configuration than the setting's today (other values, props
    changed since), or differ from each other, is not averaged."""
    entries: dict[str, dict[str, Any]] = {}
    archive = load_archive(out, table)
    for row in rows:
        collected = reproduce.row_seeds(out, table, row, seeds, archive, valid_metric)
        setting = {k: v for k, v in row.labels.items() if k not in ("model", "dataset")}
        entry: dict[str, Any] = {"setting": setting, "seeds_done": collected.seeds_done, "seeds_asked": len(seeds)}
        if collected.archived:
            entry["archived_seeds"] = collected.archived
        if collected.groups:
            foreign = reproduce.stale_runs(collected.configs, *reproduce.row_config(row))
            differing = reproduce.setup_differences(collected.setups)
            if foreign:
                entry["foreign_runs"] = foreign
            elif differing:
                entry["mixed_setup"] = differing
            else:
                pooled = pool_groups(collected.groups)
                entry.update({k: pooled[k] for k in ("valid", "test", "best_epoch", "epochs_run", "hardware")})
        entries[row.name] = entry
    complete = {n: e for n, e in entries.items() if "valid" in e and e["seeds_done"] == e["seeds_asked"]}
    selected = max(complete, key=lambda n: complete[n]["valid"][0]) if complete else None  # first of equals wins
    by_test = (max(complete, key=lambda n: complete[n]["test"].get(valid_metric, (float("-inf"),))[0])
               if complete else None)
    machines = sorted({m for e in entries.values() for m in e.get("hardware", [])})
    return {
        "table": table, "valid_metric": valid_metric, "seeds": seeds, "date": time.strftime("%Y-%m-%d"),
        "machine": "; ".join(machines) if machines else reproduce.machine(),
        "settings_complete": len(complete), "settings": entries, "selected": selected, "selected_by_test": by_test,
    }


def markdown(summary: dict[str, Any], command: str) -> str:
    """Every setting with its validation score and test metrics; the selected one in bold."""
    vm, seeds = summary["valid_metric"], len(summary["seeds"])
    lines = [
        f"# {summary['table']}: selected on validation {vm}, mean ± std over {seeds} seed(s) "
        f"({summary['machine']}; {summary['date']})",
        "",
        "| setting | seeds | valid " + vm + " | " + " | ".join(f"test {m}" for m in TEST_METRICS)
        + " | best epoch | epochs run |",
        "|---|---|---|" + "---|" * (len(TEST_METRICS) + 2),
    ]
    for name, e in summary["settings"].items():
        label = f"**{name}** (selected)" if name == summary["selected"] else name
        if "foreign_runs" in e:
            foreign = "; ".join(e["foreign_runs"])
            lines.append(f"| {label} | not averaged: runs made with another configuration ({foreign}) |"
                         + " |" * (len(TEST_METRICS) + 3))
            continue
        if "mixed_setup" in e:
            lines.append(f"| {label} | not averaged: its runs differ in {', '.join(e['mixed_setup'])} |"
                         + " |" * (len(TEST_METRICS) + 3))
            continue
        if "valid" not in e:
            lines.append(f"| {label} | pending |" + " |" * (len(TEST_METRICS) + 3))
            continue
        done = f"{e['seeds_done']}/{e['seeds_asked']}" + ("" if e["seeds_done"] == e["seeds_asked"] else " pending")
        done += f" ({len(e['archived_seeds'])} archived)" if e.get("archived_seeds") else ""
        cells = [reproduce._cell({"v": e["valid"]}, "v", e["seeds_done"])]
        cells += [reproduce._cell(e["test"], m, e["seeds_done"]) for m in TEST_METRICS]
        lines.append(f"| {label} | {done} | " + " | ".join(cells)
                     + f" | {e['best_epoch'][0]:.1f} | {e['epochs_run'][0]:.1f} |")
    total = len(summary["settings"])
    lines.append("")
    if summary["selected"] is None:
        lines.append(f"No setting has all its seeds yet; nothing selected. Continue: `{command}`")
    else:
        provisional = "" if summary["settings_complete"] == total else (
            f" (provisional: {summary['settings_complete']} of {total} settings complete; continue: `{command}`)")
        best = summary["settings"][summary["selected"]]
        lines.append(f"Selected on validation: `{summary['selected']}`, test {vm} "
                     f"{reproduce._cell(best['test'], vm, best['seeds_done'])}{provisional}.")
        if summary["selected_by_test"] != summary["selected"]:
            lines.append(f"Selecting on the test score, as MMRec's quick_start does, would pick "
                         f"`{summary['selected_by_test']}` instead: a choice made on the test split, not reported.")
        else:
            lines.append("Selecting on the test score (MMRec's quick_start) would pick the same setting.")
    return "\n".join(lines) + "\n"


def write_summary(out: Path, table: str, rows: list, seeds: list[int], valid_metric: str, command: str,
                  name: str) -> str:
    """Write ``<out>/grid/<name>.json`` and ``.md`` atomically from the finished runs; returns the markdown."""
    summary = summarise(out, table, rows, seeds, valid_metric)
    text = markdown(summary, command)
    atomic_write_json(out / "grid" / f"{name}.json", summary)
    atomic_write_text(out / "grid" / f"{name}.md", text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, choices=general_models())
    parser.add_argument("-d", "--dataset", default=DEFAULT_DATASET)
    parser.add_argument("--grid", nargs="+", default=None, metavar="KEY=V1,V2",
                        help="the grid to search (default: the model's published grid in props/grids.yaml)")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", dest="fixed",
                        help="overrides applied to every setting (e.g. epochs=200)")
    parser.add_argument("--name", default=None, help="file name of the summary under <out>/grid/ (default: "
                        "<model>-<dataset>), e.g. to keep a confirmation of the selected setting beside the grid")
    reproduce.add_batch_options(parser, [2020])
    args = parser.parse_args(argv)
    reproduce.check_batch_options(parser, args)
    name = args.name or f"{args.model}-{args.dataset}"
    if not NAME.fullmatch(name):
        parser.error(f"--name: {name!r} is not a plain file name (letters, digits, _ . + = , -)")
    try:
        grid = parse_grid(args.grid) if args.grid else published_grid(args.model)
        fixed = parse_overrides(args.fixed)
        odd = [item for item in args.fixed if not SCALAR.fullmatch(item.partition("=")[2].strip())]
        if odd:
            raise ConfigError(f"--set '{odd[0]}': not a plain scalar (letters, digits, _ . + -); the fixed values name "
                              "the runs' folder. Fix: a number, word or true/false")
        clash = sorted(set(fixed) & set(grid))
        if clash:
            raise ConfigError(f"{clash} both searched (--grid) and fixed (--set). Fix: give each key in one of them")
        if "seed" in set(fixed) | set(grid):
            raise ConfigError("seed is not a hyper-parameter here. Fix: give the seeds with --seeds")
        settings = expand(grid)
        fixed_items = [f"{k.strip()}={v.strip()}" for k, _, v in (item.partition("=") for item in args.fixed)]
        rows = grid_rows(args.model, args.dataset, settings, fixed_items)
        valid_metric = check_settings(rows)
    except MissrecError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out, table = ROOT / args.out, table_name(args.model, args.dataset, fixed_items)
    summary_file = out / "grid" / f"{name}.json"
    seeds = reproduce.covered_seeds(summary_file, args.seeds)
    if seeds != sorted(args.seeds):
        print(f"the summary covers seeds {' '.join(map(str, seeds))} (those of {summary_file.name} and those asked)",
              flush=True)
    grid_args = " ".join(f"{k}={','.join(v)}" for k, v in grid.items())
    command = (f"python scripts/grid.py --model {args.model} -d {args.dataset} --grid {grid_args}"
               + (f" --set {' '.join(fixed_items)}" if fixed_items else "")
               + f" --seeds {' '.join(map(str, seeds))}" + (f" --name {args.name}" if args.name else ""))
    plan = [(table, row) for row in rows]
    if args.status:
        print(reproduce.status_report(out, plan, args.seeds, {table: seeds}), flush=True)
        return 0
    present = summarise(out, table, rows, seeds, valid_metric)["settings"]
    lost = reproduce.lost_seeds(summary_file, "settings", present)
    if lost:
        return reproduce.refuse_lost_seeds(lost, summary_file, out / "runs" / table)
    archive = load_archive(out, table)
    todo = [(table, row, s) for row in rows
            for s in reproduce.seeds_to_run(out, table, row, args.seeds, archive, seeds)]
    if not args.summary_only and todo:
        print(f"{len(settings)} settings x {len(args.seeds)} seeds", flush=True)
        reproduce.run_batch(out, todo, args.jobs, args.device,
                            lambda _: write_summary(out, table, rows, seeds, valid_metric, command, name))
    print(write_summary(out, table, rows, seeds, valid_metric, command, name))
    return 0


if __name__ == "__main__":
    reproduce.run_command(main)
