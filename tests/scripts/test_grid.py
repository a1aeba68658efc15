"""scripts/grid.py: the published grids are valid, combinations expand in order, selection reads validation only."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from missrec.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("grid", ROOT / "scripts" / "grid.py")
grid = importlib.util.module_from_spec(spec)
sys.modules["grid"] = grid
spec.loader.exec_module(grid)


def test_every_published_grid_is_a_valid_configuration_of_its_model():
    for model in ("BPR", "LightGCN", "VBPR", "LATTICE", "FREEDOM", "BM3", "GRCN", "SGFD-BM3"):
        settings = grid.expand(grid.published_grid(model))
        assert grid.check_settings(grid.grid_rows(model, "ML100K_general", settings, [])) == "recall@20"
    assert len(grid.expand(grid.published_grid("LightGCN"))) == 20
    bm3 = {"n_layers": ["1", "2"], "reg_weight": ["0.1", "0.01"], "dropout": ["0.3", "0.5"]}
    assert grid.published_grid("BM3") == bm3


def test_a_model_without_a_published_grid_names_the_fix():
    with pytest.raises(ConfigError, match=r"MICRO has no published grid .* Fix: give one, e.g. --grid"):
        grid.published_grid("MICRO")


def test_grid_arguments_expand_in_order_last_key_fastest():
    parsed = grid.parse_grid(["n_layers=1,2", "reg_weight=0.1, 1e-2"])
    assert parsed == {"n_layers": ["1", "2"], "reg_weight": ["0.1", "1e-2"]}
    names = [grid.setting_name(s) for s in grid.expand(parsed)]
    assert names == ["n_layers=1,reg_weight=0.1", "n_layers=1,reg_weight=1e-2",
                     "n_layers=2,reg_weight=0.1", "n_layers=2,reg_weight=1e-2"]


@pytest.mark.parametrize("items,message", [
    (["reg_weight"], "expected key=value1,value2"),
    (["reg_weight="], "expected key=value1,value2"),
    (["reg_weight=0.1", "reg_weight=0.2"], "given twice"),
    (["reg_weight=0.1,0.1"], "listed twice"),
    (["data_path=../x"], "is not a plain scalar"),
])  # fmt: skip
def test_malformed_grids_are_refused(items, message):
    with pytest.raises(ConfigError, match=message):
        grid.parse_grid(items)


def test_a_bad_value_is_refused_before_any_run(tmp_path, capsys):
    rc = grid.main(["--model", "BPR", "--grid", "reg_weight=0.1,abc", "--out", str(tmp_path)])
    assert rc == 2
    assert "grid setting reg_weight=abc: overrides: reg_weight expects a number" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
    rc = grid.main(["--model", "BPR", "--grid", "reg_weight=0.1", "--set", "reg_weight=1", "--out", str(tmp_path)])
    assert rc == 2 and "both searched (--grid) and fixed (--set)" in capsys.readouterr().err


def fake_run(out, table, row, seed, valid, test, config=None):
    folder = grid.reproduce.run_dir(out, table, row, seed)
    folder.mkdir(parents=True)
    made_with, _ = grid.reproduce.row_config(row)
    (folder / "config.json").write_text(json.dumps({**made_with, **(config or {}), "seed": seed}))
    (folder / "results.json").write_text(json.dumps({
        "valid": {"recall@20": valid}, "test": {"recall@20": test, "ndcg@20": test / 2},
        "best_epoch": 10, "epochs_run": 31, "history": [{"train_seconds": 1.0}],
    }))


def test_selection_reads_validation_and_names_what_test_selection_would_pick(tmp_path):
    settings = grid.expand({"reg_weight": ["0.1", "0.01", "0.001"]})
    rows = grid.grid_rows("BPR", "ML100K_general", settings, [])
    table = grid.table_name("BPR", "ML100K_general")
    seeds = [1, 2]
    for seed in seeds:  # 0.1: best on validation; 0.01: best on test; 0.001: one seed only
        fake_run(tmp_path, table, rows[0], seed, valid=0.30 + seed / 100, test=0.20)
        fake_run(tmp_path, table, rows[1], seed, valid=0.25, test=0.29)
    fake_run(tmp_path, table, rows[2], 1, valid=0.90, test=0.90)
    summary = grid.summarise(tmp_path, table, rows, seeds, "recall@20")
    assert summary["selected"] == "reg_weight=0.1"
    assert summary["selected_by_test"] == "reg_weight=0.01"
    assert summary["settings"]["reg_weight=0.1"]["valid"][0] == pytest.approx(0.315)
    assert summary["settings_complete"] == 2  # the incomplete setting is not a candidate, however good
    text = grid.markdown(summary, "CMD")
    assert "| **reg_weight=0.1** (selected) | 2/2 | 0.3150 ± 0.0071 | – | – | 0.2000 ± 0.0000 |" in text
    assert "| reg_weight=0.001 | 1/2 pending | 0.9000 |" in text
    assert "provisional: 2 of 3 settings complete; continue: `CMD`" in text
    assert "would pick `reg_weight=0.01` instead" in text


def test_nothing_is_selected_before_a_setting_is_complete(tmp_path):
    rows = grid.grid_rows("BPR", "ML100K_general", grid.expand({"reg_weight": ["0.1"]}), [])
    summary = grid.summarise(tmp_path, "grid/x", rows, [1], "recall@20")
    assert summary["selected"] is None
    assert "nothing selected" in grid.markdown(summary, "CMD")


def test_a_named_summary_keeps_the_grid_and_reuses_its_runs(tmp_path, monkeypatch):
    launched = []
    def run_one(out, table, row, seed, device):
        launched.append((row.name, seed))

    monkeypatch.setattr(grid.reproduce, "run_one", run_one)
    table = grid.table_name("BPR", "ML100K_general")
    rows = grid.grid_rows("BPR", "ML100K_general", grid.expand({"reg_weight": ["0.1", "0.01"]}), [])
    for row in rows:
        fake_run(tmp_path, table, row, 2020, valid=0.3, test=0.3)
    assert grid.main(["--model", "BPR", "--grid", "reg_weight=0.1,0.01", "--out", str(tmp_path)]) == 0
    assert launched == []  # every run finished: nothing launched
    args = ["--model", "BPR", "--grid", "reg_weight=0.1", "--seeds", "2020", "2021", "--name", "BPR-confirm"]
    assert grid.main([*args, "--out", str(tmp_path)]) == 0
    assert launched == [("reg_weight=0.1", 2021)]  # seed 2020 of the setting is reused
    assert (tmp_path / "grid" / "BPR-confirm.md").is_file()
    # one seed asked again: the named summary keeps both
    assert grid.main([*args[:4], "--seeds", "2021", "--name", "BPR-confirm", "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "grid" / "BPR-confirm.json").read_text())["seeds"] == [2020, 2021]
    assert "reg_weight=0.01" in (tmp_path / "grid" / "BPR-ML100K_general.md").read_text()  # the grid's summary stays
    with pytest.raises(SystemExit):
        grid.main(["--model", "BPR", "--name", "../x", "--out", str(tmp_path)])


def test_runs_made_with_other_values_are_not_taken_for_the_setting(tmp_path, capsys):
    rows = grid.grid_rows("BPR", "ML100K_general", grid.expand({"reg_weight": ["0.1", "0.01"]}), [])
    table = grid.table_name("BPR", "ML100K_general")
    fake_run(tmp_path, table, rows[0], 1, valid=0.3, test=0.3, config={"reg_weight": 0.5})  # copied in by hand
    fake_run(tmp_path, table, rows[1], 1, valid=0.2, test=0.2, config={"epochs": 2})  # made under --set epochs=2
    summary = grid.summarise(tmp_path, table, rows, [1], "recall@20")
    foreign = {name: e["foreign_runs"] for name, e in summary["settings"].items()}
    assert foreign == {"reg_weight=0.1": ["reg_weight=0.1-seed1: reg_weight ran 0.5, now 0.1"],
                       "reg_weight=0.01": ["reg_weight=0.01-seed1: epochs ran 2, now 1000"]}
    assert summary["selected"] is None
    assert "not averaged: runs made with another configuration" in grid.markdown(summary, "CMD")
    # --set gives the runs their own folder: a grid with epochs=2 never reuses (or is reused by) the full runs
    assert grid.table_name("BPR", "ML100K_general", ["epochs=2"]) == "grid/BPR-ML100K_general/epochs=2"
    args = ["--model", "BPR", "--grid", "reg_weight=0.1", "--set", "topk=[5,10]", "--out", str(tmp_path)]
    assert grid.main(args) == 2
    assert "not a plain scalar" in capsys.readouterr().err


def test_a_grid_whose_run_folders_are_gone_is_not_rewritten_without_them(tmp_path, capsys):
    table = grid.table_name("BPR", "ML100K_general")
    rows = grid.grid_rows("BPR", "ML100K_general", grid.expand({"reg_weight": ["0.1"]}), [])
    fake_run(tmp_path, table, rows[0], 2020, valid=0.3, test=0.3)
    args = ["--model", "BPR", "--grid", "reg_weight=0.1", "--summary-only", "--out", str(tmp_path)]
    assert grid.main(args) == 0
    (grid.reproduce.run_dir(tmp_path, table, rows[0], 2020) / "results.json").unlink()
    assert grid.main(args) == 2
    assert "reg_weight=0.1: 1 seeds in BPR-ML100K_general.json, 0 here" in capsys.readouterr().err
    assert "1/1" in (tmp_path / "grid" / "BPR-ML100K_general.md").read_text()
