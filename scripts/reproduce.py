"""One command per results table: every row, several seeds, early stopping, resumable, one markdown + JSON summary.

    python scripts/reproduce.py ml100k                     # the sequential table on ML100K_mm_full
    python scripts/reproduce.py mllatest --jobs 2          # on MLLatest_mm_full, two runs at a time
    python scripts/reproduce.py graph --seeds 2023         # a fourth seed of the twelve graph models' rows
    python scripts/reproduce.py ml100k --summary-only      # rebuild results/ml100k.md from the runs present
    python scripts/reproduce.py all --jobs 2               # every table, the claims' evidence first (see schedule)
    python scripts/reproduce.py all --status               # where each unfinished run stands; runs nothing

Each run is ``finetune.py`` / ``train_graph.py`` with its props (maximum epochs, early stopping on validation) and
``seed=<seed>``, written to ``results/runs/<table>/<row>-seed<seed>/``; a run whose ``results.json`` exists is
skipped, so a table can be built across sittings, and an interrupted run continues from its last saved epoch
(``--resume``: the same run as an uninterrupted one) or, without a saved state, starts again. Rows are listed in
the order that lands the claims' evidence first. Seeds kept only by an archived summary (``results/archive/``,
``scripts/archive.py``) count as finished and are pooled exactly with the runs. ``results/<table>.md`` and
``results/<table>.json`` hold, per row, mean ± std over the finished seeds of every test metric, the best epoch,
the epochs run, seconds per training epoch and the machine; rows with fewer seeds than asked are marked pending
with the command that completes them. A summary covers the seeds it had and those asked: running one seed of one
row (``--rows R --seeds 2022``) adds to the table and never rewrites it as a one-seed table.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from missrec.cli import finetune as finetune_cli
from missrec.cli import train_graph as train_graph_cli
from missrec.cli.common import parse_run_args
from missrec.config import explicit_keys, parse_overrides
from missrec.hardware import describe_hardware
from missrec.io_utils import atomic_write_json, atomic_write_text
from missrec.run_folder import lock_holder
from missrec.runner import finetune_config
from missrec.runner_general import general_config
from missrec.trainers.epoch_state import config_changes
from missrec.trainers.state_folders import latest_position, saved_states

sys.path.insert(0, str(Path(__file__).resolve().parent))
from archive import ARCHIVE_DIR, load_archive, pool_groups, run_as_group  # noqa: E402  (scripts/archive.py)

ROOT = Path(__file__).resolve().parents[1]
RUNNING: set[subprocess.Popen] = set()  # the runs in progress, stopped with this process
CHECKPOINTS = {  # equal pre-training budgets: 3 epochs on ML1M_genres, global batch 1,024, one process (saved/*.md)
    "MISSRec": "saved/MISSRec-ML1M_genres-3.safetensors",
    "UniSRec": "saved/UniSRec-ML1M_genres-3.safetensors",
}
GRAPH_MODELS = [
    "BPR",
    "LightGCN",
    "VBPR",
    "GRCN",
    "LATTICE",
    "MICRO",
    "FREEDOM",
    "BM3",
    "MMSSL",
    "SEA",
    "SGFD-BM3",
    "SGFD-GRCN",
]
SEQUENTIAL_DATASETS = {"ml100k": "ML100K_mm_full", "mllatest": "MLLatest_mm_full"}
GRAPH_DATASETS = ["ML100K_general", "MLLatest_general"]
PER_RUN_KEYS = {  # config.json keys that may differ between the seeds of one row
    "seed", "device", "show_progress", "data_path", "checkpoint_dir", "dataset_save_path", "dataloaders_save_path",
}
FIRST_ROWS = 9  # the rows of sequential_rows that run first: the claim-bearing ones (three models from scratch, MISSRec
# scratch vs pre-trained), then the zero-shot ones and Pop (seconds each: what the checkpoints carry before any
# training, and the popularity floor to read them against)


@dataclass(frozen=True)
class Row:
    """One row of a table: what to run, and the name it is reported under."""

    name: str
    entry: str  # finetune.py or train_graph.py
    args: tuple[str, ...]
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


def sequential_rows(dataset: str) -> list[Row]:
    """SASRec, UniSRec and MISSRec rows, claim-bearing first: the three models transductive from scratch, then
    MISSRec scratch vs pre-trained in both settings, then both checkpoints zero-shot (evaluated without training) and
    the most-popular baseline, then the rest, last MISSRec fine-tuned from its checkpoint with the transformer
    trained too. ``init``: ``scratch``, ``pre-trained`` (fine-tuned from the checkpoint, transformer frozen as in the
    paper), ``pre-trained-unfrozen`` (``fix_enc=false``: everything fine-tuned) or ``zero-shot``."""

    def row(model: str, mode: str, init: str) -> Row:
        args = ("--model", model, "-mode", mode, "-d", dataset)
        if init != "scratch":
            args += ("-p", CHECKPOINTS[model])
        if init == "zero-shot":
            args += ("--zero-shot",)
        if init == "pre-trained-unfrozen":
            args += ("fix_enc=false",)
        return Row(f"{model}-{mode}-{init}", "finetune.py", args, {"model": model, "setting": mode, "init": init})

    order = [
        ("MISSRec", "transductive", "scratch"),
        ("UniSRec", "transductive", "scratch"),
        ("SASRec", "transductive", "scratch"),
        ("MISSRec", "transductive", "pre-trained"),
        ("MISSRec", "inductive", "scratch"),
        ("MISSRec", "inductive", "pre-trained"),
        ("MISSRec", "inductive", "zero-shot"),
        ("UniSRec", "inductive", "zero-shot"),
        ("Pop", "transductive", "scratch"),
        ("UniSRec", "transductive", "pre-trained"),
        ("UniSRec", "inductive", "scratch"),
        ("UniSRec", "inductive", "pre-trained"),
        ("MISSRec", "transductive", "pre-trained-unfrozen"),
    ]
    return [row(*spec) for spec in order]


def graph_rows() -> list[Row]:
    """The twelve graph models on both general datasets."""
    return [
        Row(f"{model}-{ds}", "train_graph.py", ("--model", model, "-d", ds), {"model": model, "dataset": ds})
        for ds in GRAPH_DATASETS
        for model in GRAPH_MODELS
    ]


def row_checkpoint(row: Row) -> str | None:
    """The pre-trained checkpoint a row transfers from, if any."""
    return row.args[row.args.index("-p") + 1] if "-p" in row.args else None


def table_rows(table: str) -> list[Row]:
    return graph_rows() if table == "graph" else sequential_rows(SEQUENTIAL_DATASETS[table])


def schedule(table: str) -> list[tuple[str, Row]]:
    """``(table, row)`` in the order they run. ``all``: the claim-bearing rows of both sequential tables, then the
    other sequential rows of both, then the graph table (the order the tables' evidence is worth most)."""
    if table != "all":
        return [(table, row) for row in table_rows(table)]
    sequential = list(SEQUENTIAL_DATASETS)
    first = [(t, row) for t in sequential for row in table_rows(t)[:FIRST_ROWS]]
    rest = [(t, row) for t in sequential for row in table_rows(t)[FIRST_ROWS:]]
    return first + rest + [("graph", row) for row in table_rows("graph")]


def run_dir(out: Path, table: str, row: Row, seed: int) -> Path:
    return out / "runs" / table / f"{row.name}-seed{seed}"


def repo_relative(path: Path) -> Path:
    """``path`` relative to the repository root when it lies inside it (runs start there), so ``results.json``
    and the logs name ``results/runs/...``, not this machine's checkout."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def run_one(out: Path, table: str, row: Row, seed: int, device: str) -> tuple[str, int, float]:
    """Run one (row, seed) in a fresh process with one thread; returns (row, seed, seconds). A run another process
    holds (another table command on the same folder) is skipped, not launched to be refused."""
    folder = run_dir(out, table, row, seed)
    holder = lock_holder(folder) if folder.is_dir() else None
    if holder:
        print(f"{row.name} seed {seed}: skipped, another process (pid {holder}) is running it", flush=True)
        return row.name, seed, 0.0
    cmd = [
        sys.executable,
        row.entry,
        *row.args,
        "--device",
        device,
        "--output",
        str(repo_relative(folder)),
        "--resume" if saved_states(folder) else "--overwrite",
        f"seed={seed}",
        "show_progress=false",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    t0 = time.perf_counter()
    log = out / "runs" / table / f"{row.name}-seed{seed}.stdout"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:  # appended: an earlier attempt's traceback stays readable
        f.write(f"==== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd[1:])}\n")
        f.flush()
        child = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)
        RUNNING.add(child)
        try:
            rc = child.wait()
        finally:
            RUNNING.discard(child)
    status = "done" if rc == 0 and (folder / "results.json").is_file() else f"FAILED rc={rc} (see {log})"
    print(f"{row.name} seed {seed}: {status}, {time.perf_counter() - t0:.0f}s", flush=True)
    return row.name, seed, time.perf_counter() - t0


def stop_runs(timeout: float = 120.0) -> None:
    """Interrupt the runs in progress (SIGINT: a run exits keeping its last epoch's state) and wait for them; one
    that does not end within ``timeout`` seconds is killed (its previous state still resumes)."""
    children = list(RUNNING)
    for child in children:
        child.send_signal(signal.SIGINT)
    for child in children:
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def machine() -> str:
    """This machine as the runs launched here see it (one thread each unless ``OMP_NUM_THREADS`` says more)."""
    return describe_hardware("cpu", int(os.environ.get("OMP_NUM_THREADS", "1")))


def run_hardware(result: dict[str, Any]) -> str:
    """The machine a run's ``results.json`` names; older runs recorded none and ran on this machine."""
    return result.get("hardware") or machine()


def run_setup(folder: Path, result: dict[str, Any]) -> dict[str, Any]:
    """What must be equal across a row's seeds: the run's configuration (``config.json``) without the seed and the
    machine-specific keys, and the pre-trained checkpoint's sha256."""
    config_file = folder / "config.json"
    config = json.loads(config_file.read_text()) if config_file.is_file() else {}
    setup = {k: v for k, v in config.items() if k not in PER_RUN_KEYS}
    setup["pretrained_sha256"] = result.get("pretrained_sha256")
    return setup


def row_config(row: Row) -> tuple[dict[str, Any], set[str]]:
    """The configuration a run of ``row`` is made with today (``config.json``'s JSON values, built from the row's
    command line and the props as they are now, reading no data) and the keys the command sets explicitly."""
    if row.entry == "finetune.py":
        args = parse_run_args(finetune_cli.build_parser(), list(row.args))
        overrides = parse_overrides(args.overrides)
        config, settings = finetune_config(args.model, args.dataset, args.mode, args.device, args.epochs, overrides,
                                           args.props)
    else:
        args = parse_run_args(train_graph_cli.build_parser(), list(row.args))
        overrides = parse_overrides(args.overrides)
        config, settings = general_config(args.model, args.dataset, args.device, args.epochs, overrides, args.props)
    return json.loads(json.dumps(dict(config.final_config_dict), default=str)), explicit_keys(args.props, settings)


def stale_runs(
    saved: list[tuple[str, dict[str, Any] | None]], current: dict[str, Any], explicit: set[str]
) -> list[str]:
    """The finished runs of a row made with another configuration than the row's today (props or code changed
    since, or a run copied in by hand), as ``<run>: key ran X, now Y``; ``saved`` holds each run's name and
    ``config.json`` (``None`` when it has none). Keys a run predates that stay at their defaults, keys the code no
    longer has and the per-run keys (seed, device, paths) are no change."""
    stale = []
    for name, config in saved:
        if config is None:
            stale.append(f"{name}: no config.json")
            continue
        changed, _, _ = config_changes(config, current, explicit, PER_RUN_KEYS | {"gpu_id", "use_gpu"})
        stale += [f"{name}: {k} ran {config.get(k)!r}, now {current.get(k)!r}" for k in changed[:3]]
    return stale


def saved_config(folder: Path) -> dict[str, Any] | None:
    config_file = folder / "config.json"
    return json.loads(config_file.read_text()) if config_file.is_file() else None


def usable_archive(kept: dict[str, Any] | None, seeds: list[int], finished: set[int]) -> dict[str, Any] | None:
    """A row's archived seeds (``scripts/archive.py``) when they count: all of them asked for, none run again (an
    archived summary cannot be split, nor a seed counted twice)."""
    if kept and set(kept["seeds"]) <= set(seeds) and not set(kept["seeds"]) & finished:
        return kept
    return None


def finished_seeds(out: Path, table: str, row: Row, seeds: list[int]) -> set[int]:
    return {s for s in seeds if (run_dir(out, table, row, s) / "results.json").is_file()}


def seeds_to_run(out: Path, table: str, row: Row, seeds: list[int], archive: dict[str, Any],
                 covered: list[int]) -> list[int]:
    """The seeds of ``row`` among ``seeds`` still to run: neither finished nor counted by its archived summary
    (``archive``: :func:`archive.load_archive`'s rows of the table), which counts when the summary's seeds
    (``covered``: :func:`covered_seeds`) include all of its seeds."""
    done = finished_seeds(out, table, row, covered)
    kept = usable_archive(archive.get(row.name), covered, done)
    return [s for s in seeds if s not in done and not (kept and s in kept["seeds"])]


def covered_seeds(summary_file: Path, asked: list[int]) -> list[int]:
    """The seeds a summary covers once rewritten: those of the summary on disk and those asked, sorted. Running some
    seeds of a table adds them to its summary and never narrows the summary to them (for a summary of other seeds
    only, give another ``--out`` or remove the file)."""
    previous = summary_seeds(json.loads(summary_file.read_text())) if summary_file.is_file() else []
    return sorted({*previous, *asked})


def summary_seeds(summary: dict[str, Any]) -> list[int]:
    """The seeds a table or grid summary covers: its ``seeds``, or for a table summary written before it recorded
    them, the seeds its rows' commands name."""
    if "seeds" in summary:
        return summary["seeds"]
    commands = [entry.get("command", "") for entry in summary.get("rows", {}).values()]
    return sorted({int(s) for command in commands for s in command.partition("--seeds")[2].split()})


@dataclass
class RowSeeds:
    """A row's finished seeds as :func:`archive.pool_groups` takes them, with what is checked before pooling."""

    groups: list[dict[str, Any]]  # one per run, plus the archived summary
    setups: list[dict[str, Any]]  # run_setup of each group (must be equal)
    configs: list[tuple[str, dict[str, Any] | None]]  # (name, config.json) of each group, for stale_runs
    archived: list[int]  # the archived seeds counted
    seeds_done: int


def row_seeds(out: Path, table: str, row: Row, seeds: list[int], archive: dict[str, Any],
              valid_metric: str | None = None) -> RowSeeds:
    """Collect a row's finished runs among ``seeds`` and its usable archived summary (a grid's also with its best
    validation ``valid_metric``)."""
    done = finished_seeds(out, table, row, seeds)
    folders = [run_dir(out, table, row, s) for s in seeds if s in done]
    runs = [json.loads((f / "results.json").read_text()) for f in folders]
    collected = RowSeeds(
        groups=[run_as_group(r, run_hardware(r), valid_metric) for r in runs],
        setups=[run_setup(f, r) for f, r in zip(folders, runs, strict=True)],
        configs=[(f.name, saved_config(f)) for f in folders],
        archived=[],
        seeds_done=len(runs),
    )
    kept = usable_archive(archive.get(row.name), seeds, done)
    if kept:
        collected.groups.append(kept["summary"])
        collected.setups.append(kept["setup"])
        collected.configs.append((f"archived seeds {', '.join(map(str, kept['seeds']))}", kept["setup"]))
        collected.archived = kept["seeds"]
        collected.seeds_done += len(kept["seeds"])
    return collected


def setup_differences(setups: list[dict[str, Any]]) -> list[str]:
    """The keys whose values differ between runs (a key one run lacks counts as differing)."""
    keys = set().union(*setups)
    return sorted(k for k in keys if len({json.dumps(s.get(k), sort_keys=True) for s in setups}) > 1)


def summarise(out: Path, table: str, seeds: list[int]) -> dict[str, Any]:
    """Per row: mean/std of every test metric over the finished seeds (runs, and archived seeds pooled exactly), best
    epoch, epochs run, s/epoch. A row whose runs differ in configuration or pre-trained checkpoint, or were made with
    another configuration than the row's today, is not averaged: it names the differing keys instead."""
    rows, machines = {}, set()
    archive = load_archive(out, table)
    for row in table_rows(table):
        collected = row_seeds(out, table, row, seeds, archive)
        entry: dict[str, Any] = {
            **row.labels,
            "seeds_done": collected.seeds_done,
            "seeds_asked": len(seeds),
            "command": f"python scripts/reproduce.py {table} --rows {row.name} --seeds {' '.join(map(str, seeds))}",
        }
        if collected.archived:
            entry["archived_seeds"] = collected.archived
        if collected.groups:
            stale = stale_runs(collected.configs, *row_config(row))
            differing = setup_differences(collected.setups)
            if stale:
                entry["stale_runs"] = stale
            elif differing:
                entry["mixed_setup"] = differing
            else:
                entry.update(pool_groups(collected.groups))
                machines.update(entry["hardware"])
        rows[row.name] = entry
    described = "; ".join(sorted(machines)) if machines else machine()
    return {"table": table, "seeds": seeds, "machine": described, "date": time.strftime("%Y-%m-%d"), "rows": rows}


def lost_seeds(summary_file: Path, key: str, entries: dict[str, dict[str, Any]]) -> list[str]:
    """The rows (``key``: ``rows``, or a grid's ``settings``) that the summary on disk counts more finished seeds of,
    for the same seeds asked, than ``entries`` (the runs and archive present) do: their run folders are gone, and
    rewriting the summary would drop them. As ``<row>: N seeds in <file>, M runs here``."""
    if not summary_file.is_file():
        return []
    try:
        previous = json.loads(summary_file.read_text())[key]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [
        f"{name}: {old['seeds_done']} seeds in {summary_file.name}, {entries[name]['seeds_done']} here"
        for name, old in previous.items()
        if name in entries and old.get("seeds_asked") == entries[name]["seeds_asked"]
        and old.get("seeds_done", 0) > entries[name]["seeds_done"]
    ]


def refuse_lost_seeds(lost: list[str], summary_file: Path, runs: Path, archive_command: str | None = None) -> int:
    """Print the one error for :func:`lost_seeds` (with the ways out) and return the exit status 2."""
    keep = f"keep its rows with `{archive_command}`, or " if archive_command else ""
    print(f"error: {summary_file} counts finished seeds whose run folders are missing ({'; '.join(lost[:3])}"
          f"{'; ...' if len(lost) > 3 else ''}): rewriting it would drop them. Fix: restore the run folders under "
          f"{runs}, or {keep}remove {summary_file.name} to start afresh", file=sys.stderr)
    return 2


def _cell(stats: dict[str, Any], metric: str, seeds: int) -> str:
    """``mean ± std``; the mean alone for one seed (no spread measured); ``–`` for a metric the row lacks."""
    if metric not in stats:
        return "–"
    mean, std = stats[metric]
    return f"{mean:.4f}" if seeds < 2 else f"{mean:.4f} ± {std:.4f}"


MIXED_MARK = "†"  # marks a row's s/epoch pooled over runs on different machines


def ran_on_several_machines(row: dict[str, Any]) -> bool:
    """Whether a row's runs ran on more than one machine: its pooled s/epoch then compares with no other row."""
    return len(row.get("hardware") or []) > 1


def machines_note(rows: dict[str, dict[str, Any]]) -> list[str]:
    """Where the table's rows ran, when on more than one machine: seconds per epoch compare only within one (and
    not at all for a row marked :data:`MIXED_MARK`)."""
    by_machine: dict[str, list[str]] = {}
    for name, row in rows.items():
        for hardware in row.get("hardware") or []:
            by_machine.setdefault(hardware, []).append(name)
    if len(by_machine) < 2:
        return []
    where = "; ".join(f"{hardware}: {', '.join(names)}" for hardware, names in sorted(by_machine.items()))
    note = f"Rows ran on different machines, so s/epoch compares only within one ({where})."
    if any(ran_on_several_machines(row) for row in rows.values()):
        note += f" {MIXED_MARK} s/epoch averaged over runs on more than one of them: it compares with no other row."
    return ["", note]


def markdown(summary: dict[str, Any], metrics: list[str]) -> str:
    """The table as markdown: one line per row, ``mean ± std`` per metric."""
    lines = [
        f"# {summary['table']}: test metrics, mean ± std over seeds ({summary['machine']}; {summary['date']})",
        "",
        "| row | seeds | " + " | ".join(metrics) + " | best epoch | epochs run | s/epoch |",
        "|---|---|" + "---|" * (len(metrics) + 3),
    ]
    for name, row in summary["rows"].items():
        if "stale_runs" in row:
            lines.append(f"| {name} | not averaged: runs made with another configuration than the row's today "
                         f"({'; '.join(row['stale_runs'])}; remove them from `runs/{summary['table']}/` or the row "
                         f"from `{ARCHIVE_DIR}/{summary['table']}.json` and rerun) |"
                         + " |" * (len(metrics) + 3))
            continue
        if "mixed_setup" in row:
            lines.append(f"| {name} | not averaged: its runs differ in {', '.join(row['mixed_setup'])} (remove the "
                         f"runs of the old setup from `runs/{summary['table']}/` and rerun) |" + " |" * (len(metrics) + 3))
            continue
        if "test" not in row:
            lines.append(f"| {name} | pending (`{row['command']}`) |" + " |" * (len(metrics) + 3))
            continue
        done = f"{row['seeds_done']}/{row['seeds_asked']}" + (
            f" ({len(row['archived_seeds'])} archived)" if row.get("archived_seeds") else ""
        ) + ("" if row["seeds_done"] >= row["seeds_asked"] else f" pending (`{row['command']}`)")
        cells = [_cell(row["test"], m, row["seeds_done"]) for m in metrics]
        best, per_epoch = (f"{row[k][0]:.1f}" if row[k] else "–" for k in ("best_epoch", "seconds_per_epoch"))
        if row["seconds_per_epoch"] and ran_on_several_machines(row):
            per_epoch += MIXED_MARK
        lines.append(
            f"| {name} | {done} | " + " | ".join(cells) + f" | {best} | {row['epochs_run'][0]:.1f} | {per_epoch} |"
        )
    lines += machines_note(summary["rows"])
    if any(r.get("archived_seeds") for r in summary["rows"].values()):
        lines += ["", (f"Archived seeds: runs whose folders are gone, kept by the summary they were averaged into "
                       f"(`{ARCHIVE_DIR}/{summary['table']}.json`, `scripts/archive.py`) and pooled exactly with the "
                       "runs made since.")]
    news = {n: r for n, r in summary["rows"].items() if "test_new_items" in r}
    sizes = {r["test_new_items_rows"] for r in news.values() if r.get("test_new_items_rows")}
    size = f", {sizes.pop():,} users" if len(sizes) == 1 else ""
    if news:
        lines += [
            "",
            f"Test targets whose movie is not in the pre-training corpus (new items{size}):",
            "",
            "| row | " + " | ".join(metrics) + " |",
            "|---|" + "---|" * len(metrics),
        ]
        for name, row in news.items():
            lines.append(
                f"| {name} | "
                + " | ".join(_cell(row["test_new_items"], m, row["seeds_done"]) for m in metrics)
                + " |"
            )
    return "\n".join(lines) + "\n"


def table_metrics(table: str) -> list[str]:
    """The test metrics a table's markdown shows (its JSON keeps them all)."""
    if table == "graph":
        return ["recall@10", "ndcg@10", "recall@20", "ndcg@20"]
    return ["hit@10", "ndcg@10", "hit@50", "ndcg@50"]


def write_summary(out: Path, table: str, seeds: list[int]) -> str:
    """Write ``<out>/<table>.json`` and ``<out>/<table>.md`` (atomically) from the finished runs; returns the markdown."""
    summary = summarise(out, table, seeds)
    text = markdown(summary, table_metrics(table))
    atomic_write_json(out / f"{table}.json", summary)
    atomic_write_text(out / f"{table}.md", text)
    return text


def run_status(folder: Path) -> tuple[str, int | None]:
    """``("done" | "running" | "stopped" | "to do", epochs saved by an unfinished run)`` of one run folder."""
    if (folder / "results.json").is_file():
        return "done", None
    position = latest_position(folder) if folder.is_dir() else None
    epochs = position["epoch"] if position else None
    if folder.is_dir() and lock_holder(folder):
        return "running", epochs
    return ("stopped", epochs) if position else ("to do", None)


def _cost_group(table: str, row: Row) -> tuple[str, str, str, bool]:
    """Runs whose cost is alike: the same table, model and dataset, trained or zero-shot."""
    return table, row.labels.get("model", row.name), row.labels.get("dataset", ""), row.labels.get("init") == "zero-shot"


def cost_samples(summary: dict[str, Any], n_seeds: int) -> list[tuple[float, float, str | None]]:
    """``(epochs run, seconds per epoch, machine)`` once per seed of a summary (``run_as_group``'s shape or an
    archived row's; the machine is None where its seeds ran on several); none from an archived grid summary, which
    keeps no epoch times."""
    if "seconds_per_epoch" not in summary:
        return []
    seconds = summary["seconds_per_epoch"][0] if summary["seconds_per_epoch"] else 0.0  # zero-shot: no epoch
    hardware = summary.get("hardware") or [None]
    return [(summary["epochs_run"][0], seconds, hardware[0] if len(hardware) == 1 else None)] * n_seeds


def status_report(out: Path, plan: list[tuple[str, Row]], seeds: list[int], covered: dict[str, list[int]]) -> str:
    """Where each run of ``plan`` stands (its ``seeds``; archived seeds count when ``covered[table]``, the summary's
    seeds, include them all), and the work left estimated from the finished runs of the same model in the same table
    and dataset (their mean epochs run x seconds per epoch), those made on this machine where there are any: an epoch
    on a GPU is a small fraction of one on a CPU thread."""
    here = machine()
    finished: dict[tuple[str, str, str, bool], list[tuple[int, float, str | None]]] = {}
    unfinished, counts = [], {}
    archives = {table: load_archive(out, table) for table in {t for t, _ in plan}}
    for table, row in plan:
        kept = usable_archive(archives[table].get(row.name), covered[table],
                              finished_seeds(out, table, row, covered[table]))
        if kept:
            counts["archived"] = counts.get("archived", 0) + len(kept["seeds"])
            finished.setdefault(_cost_group(table, row), []).extend(cost_samples(kept["summary"], len(kept["seeds"])))
        for seed in seeds:
            if kept and seed in kept["seeds"]:
                continue
            folder = run_dir(out, table, row, seed)
            state, epochs = run_status(folder)
            counts[state] = counts.get(state, 0) + 1
            if state != "done":
                unfinished.append((table, row, seed, state, epochs))
                continue
            r = json.loads((folder / "results.json").read_text())
            finished.setdefault(_cost_group(table, row), []).extend(cost_samples(run_as_group(r, run_hardware(r)), 1))
    lines, left, unknown = [], 0.0, 0
    for table, row, seed, state, epochs in unfinished:
        lines.append(f"{table:9} {row.name}-seed{seed}: {state}" + (f", {epochs} epochs saved" if epochs else ""))
        known = finished.get(_cost_group(table, row), [])
        known = [run for run in known if run[2] == here] or known
        if known:
            mean_epochs = statistics.mean(e for e, _, _ in known)
            left += max(mean_epochs - (epochs or 0), 1) * statistics.mean(s for _, s, _ in known)
        else:
            unknown += 1
    total = ", ".join(f"{n} {state}" for state, n in counts.items())
    if not unfinished:
        estimate = "nothing left to run"
    elif unknown == len(unfinished):
        estimate = "no estimate yet: no finished run of the same model and dataset to go by"
    else:
        estimate = f"about {left / 3600:.1f} core-hours left for the runs whose model has finished runs there"
        estimate += f"; {unknown} runs without an estimate yet" if unknown else ""
    lines.append(f"{total}; {estimate}")
    return "\n".join(lines)


def add_batch_options(parser: argparse.ArgumentParser, seeds: list[int]) -> None:
    """The options of a command that runs a batch of runs: ``--seeds --jobs --device --out --summary-only
    --status`` (shared with ``scripts/grid.py``)."""
    parser.add_argument("--seeds", nargs="+", type=int, default=seeds)
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (one thread each; default %(default)s)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="results", help="results folder (default: %(default)s)")
    parser.add_argument("--summary-only", action="store_true", help="only rebuild the summary from finished runs")
    parser.add_argument("--status", action="store_true", help="list the unfinished runs and the work left; run nothing")


def check_batch_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse ``--jobs`` below 1 and a seed given twice (one usage error each)."""
    if args.jobs < 1:
        parser.error(f"--jobs: expected a positive number of runs at a time, found {args.jobs}")
    repeated = sorted({s for s in args.seeds if args.seeds.count(s) > 1})
    if repeated:
        parser.error(f"--seeds: {repeated} given more than once; a seed is one run, counted once in the mean")


def run_batch(out: Path, todo: list[tuple[str, Row, int]], jobs: int, device: str, finished) -> None:
    """Run ``(table, row, seed)`` runs, ``jobs`` at a time, calling ``finished(table)`` after each (to rewrite the
    summary, so a batch killed mid-way still has its finished rows). Ctrl-C or SIGTERM stops the runs in progress,
    each keeping its last epoch's state."""
    print(f"{len(todo)} runs to do, {jobs} at a time", flush=True)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        submitted = {pool.submit(run_one, out, t, row, seed, device): t for t, row, seed in todo}
        try:
            for job in as_completed(submitted):
                job.result()
                finished(submitted[job])
        except KeyboardInterrupt:
            for job in submitted:
                job.cancel()
            stop_runs()
            raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", choices=[*SEQUENTIAL_DATASETS, "graph", "all"])
    parser.add_argument("--rows", nargs="+", default=None, help="only these rows (names as in the table)")
    add_batch_options(parser, [2020, 2021, 2022])
    args = parser.parse_args(argv)
    check_batch_options(parser, args)
    names = [row.name for _, row in schedule(args.table)]
    unknown = [r for r in args.rows or [] if r not in names]
    if unknown:
        parser.error(f"--rows: {unknown} not in the {args.table} table; its rows are {list(dict.fromkeys(names))}")
    out = ROOT / args.out
    plan = [(t, row) for t, row in schedule(args.table) if args.rows is None or row.name in args.rows]
    tables = list(dict.fromkeys(t for t, _ in plan))
    missing = {row.name: c for _, row in plan if (c := row_checkpoint(row)) and not (ROOT / c).is_file()}
    for name, checkpoint in missing.items():
        print(f"{name}: skipped until {checkpoint} exists (the README's Pre-training section has the command)",
              flush=True)
    covered = {t: covered_seeds(out / f"{t}.json", args.seeds) for t in tables}
    if args.status:
        print(status_report(out, plan, args.seeds, covered), flush=True)
        return 0
    for t in tables:
        if covered[t] != sorted(args.seeds):
            print(f"{t}: the summary covers seeds {' '.join(map(str, covered[t]))} (those of {args.out}/{t}.json "
                  "and those asked)", flush=True)
        lost = lost_seeds(out / f"{t}.json", "rows", summarise(out, t, covered[t])["rows"])
        if lost:
            return refuse_lost_seeds(lost, out / f"{t}.json", out / "runs" / t,
                                     f"python scripts/archive.py {t} --made-from ...")
    archives = {t: load_archive(out, t) for t in tables}
    todo = [
        (t, row, seed)
        for t, row in plan
        if row.name not in missing
        for seed in seeds_to_run(out, t, row, args.seeds, archives[t], covered[t])
    ]
    if not args.summary_only and todo:
        run_batch(out, todo, args.jobs, args.device, lambda t: write_summary(out, t, covered[t]))
    for t in tables:
        print(write_summary(out, t, covered[t]))
    print("README: python scripts/sync_readme.py", flush=True)
    return 0


def handle_interrupts() -> None:
    """SIGINT and SIGTERM stop the table and its runs (each keeping its last epoch's state). Started in the
    background (``nohup ... &`` from a script) a process inherits an ignored SIGINT, and its runs would too: handling
    it here makes ``kill -INT`` work, and the runs start with the default (exec resets a handled signal)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)


def run_command(main_function) -> None:
    """Run ``main_function()`` as a script: interrupts handled, exit status 130 after Ctrl-C with one line."""
    handle_interrupts()
    try:
        raise SystemExit(main_function())
    except KeyboardInterrupt:
        print("interrupted: rerun the same command; unfinished runs continue from their last epoch", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    run_command(main)
