"""results/: each committed table is what scripts/reproduce.py builds from the committed run records and archive
today, and results/claims.md what scripts/claims.py builds from the tables: no number is edited in by hand, and a
change of the props or code that makes a finished run stale shows in the tables."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


reproduce = load_script("reproduce")
claims = load_script("claims")
grid = load_script("grid")


@pytest.mark.parametrize("table", ["ml100k", "mllatest", "graph"])
def test_each_table_is_rebuilt_from_its_run_records_and_archive(table):
    committed = json.loads((RESULTS / f"{table}.json").read_text())
    assert {2020, 2021, 2022} <= set(committed["seeds"]), f"results/{table}.json covers fewer than the three seeds"
    summary = reproduce.summarise(RESULTS, table, committed["seeds"])
    rebuilt = json.loads(json.dumps(summary["rows"]))
    fix = f"rerun `python scripts/reproduce.py {table} --summary-only`"
    for name, row in committed["rows"].items():
        assert rebuilt[name] == row, f"results/{table}.json, {name}: {fix}"
    assert list(rebuilt) == list(committed["rows"])
    text = reproduce.markdown({**summary, "date": committed["date"]}, reproduce.table_metrics(table))
    assert text == (RESULTS / f"{table}.md").read_text(), f"results/{table}.md: {fix}"


def test_the_claims_are_rebuilt_from_the_tables():
    comparisons = []
    for table in (*claims.SEQUENTIAL_TABLES, "graph"):
        comparisons += claims.table_claims(json.loads((RESULTS / f"{table}.json").read_text()))
    assert claims.markdown(comparisons) == (RESULTS / "claims.md").read_text(), "rerun `python scripts/claims.py`"


@pytest.mark.parametrize("path", sorted((RESULTS / "grid").glob("*.json")), ids=lambda p: p.stem)
def test_each_grid_summary_is_rebuilt_from_its_runs_and_archive(path):
    committed = json.loads(path.read_text())
    rows = grid.summary_rows(committed)
    rebuilt = grid.summarise(RESULTS, committed["table"], rows, committed["seeds"], committed["valid_metric"])
    for key in ("settings", "selected", "selected_by_test", "settings_complete"):
        assert json.loads(json.dumps(rebuilt[key])) == committed[key], f"{path.name}, {key}: rerun its grid.py command"


def test_run_records_name_their_files_relative_to_the_repository():
    """A committed results.json names results/runs/... and saved/..., never the checkout it was made in."""
    records = sorted((RESULTS / "runs").rglob("results.json"))
    assert records
    for path in records:
        record = json.loads(path.read_text())
        for key in ("output_dir", "checkpoint", "pretrained"):
            assert not Path(record.get(key) or ".").is_absolute(), f"{path}: {key} = {record[key]}"
