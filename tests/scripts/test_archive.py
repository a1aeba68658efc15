"""scripts/archive.py: rows kept by their summary when their runs are gone, pooled exactly with later runs."""

import importlib.util
import json
import random
import shutil
import statistics
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "scripts"))
from test_reproduce import fake_run, reproduce  # noqa: E402

spec = importlib.util.spec_from_file_location("archive", ROOT / "scripts" / "archive.py")
archive = importlib.util.module_from_spec(spec)
spec.loader.exec_module(archive)


def test_pooled_groups_have_the_mean_and_sample_std_of_all_their_values():
    rng = random.Random(0)
    for _ in range(50):
        groups = [[rng.random() for _ in range(rng.randint(1, 4))] for _ in range(rng.randint(1, 4))]
        parts = [(len(g), statistics.mean(g), statistics.stdev(g) if len(g) > 1 else 0.0) for g in groups]
        values = [v for g in groups for v in g]
        mean, std = archive.pooled_mean_std(parts)
        assert mean == pytest.approx(statistics.mean(values), rel=1e-12)
        assert std == pytest.approx(statistics.stdev(values) if len(values) > 1 else 0.0, rel=1e-9, abs=1e-15)
    assert archive.pooled_mean_std([(2, 0.1, 0.0), (1, 0.1, 0.0)]) == (0.1, 0.0)  # equal values: no spread at all


def archive_table(tmp_path: Path, monkeypatch, table: str, seeds: list[int], row_seeds: list[str] = ()) -> None:
    """Write the table's summary, archive it and remove its run folders, as a new checkout of it would be."""
    monkeypatch.setattr(reproduce, "ROOT", tmp_path)
    monkeypatch.setattr(archive, "_load_reproduce", lambda: reproduce)
    reproduce.write_summary(tmp_path / "results", table, seeds)
    assert archive.main([table, "--made-from", "a test", "--out", "results", "--row-seeds", *row_seeds]) == 0
    shutil.rmtree(tmp_path / "results" / "runs")


def test_an_archived_row_reads_as_its_runs_did_and_pools_exactly_with_a_later_seed(tmp_path, monkeypatch):
    out = tmp_path / "results"
    row = reproduce.table_rows("mllatest")[0]
    for seed, hit in ((1, 0.10), (2, 0.25)):
        fake_run(out, "mllatest", row, seed, hit, best=seed * 10)
    before = reproduce.summarise(out, "mllatest", [1, 2, 3])["rows"][row.name]
    archive_table(tmp_path, monkeypatch, "mllatest", [1, 2, 3], [f"{row.name}=1,2"])
    after = reproduce.summarise(out, "mllatest", [1, 2, 3])["rows"][row.name]
    assert after["archived_seeds"] == [1, 2] and after["seeds_done"] == 2
    for key in ("test", "test_new_items", "best_epoch", "epochs_run", "seconds_per_epoch", "test_new_items_rows"):
        assert after[key] == before[key], key
    assert "| 2/3 (2 archived) pending (`" in reproduce.markdown(
        reproduce.summarise(out, "mllatest", [1, 2, 3]), ["hit@10"]
    )

    fake_run(out, "mllatest", row, 3, 0.40, best=7)
    pooled = reproduce.summarise(out, "mllatest", [1, 2, 3])["rows"][row.name]
    assert pooled["seeds_done"] == 3
    assert pooled["test"]["hit@10"][0] == pytest.approx(0.25)
    assert pooled["test"]["hit@10"][1] == pytest.approx(statistics.stdev([0.10, 0.25, 0.40]))
    assert pooled["best_epoch"][1] == pytest.approx(statistics.stdev([10, 20, 7]))
    assert pooled["test_new_items"]["hit@10"][0] == pytest.approx(0.25 / 4)


def test_archived_seeds_are_not_run_again_and_status_counts_them(tmp_path, monkeypatch, capsys):
    out = tmp_path / "results"
    row = reproduce.table_rows("ml100k")[0]
    for seed in (1, 2):
        fake_run(out, "ml100k", row, seed, 0.1 * seed, best=5)
    archive_table(tmp_path, monkeypatch, "ml100k", [1, 2])
    ran = []
    monkeypatch.setattr(reproduce, "run_one", lambda o, t, r, seed, device: ran.append((r.name, seed)))
    assert reproduce.main(["ml100k", "--rows", row.name, "--seeds", "1", "2", "3", "--out", "results"]) == 0
    assert ran == [(row.name, 3)]
    capsys.readouterr()
    reproduce.main(["ml100k", "--rows", row.name, "--seeds", "1", "2", "3", "--status", "--out", "results"])
    text = capsys.readouterr().out
    assert f"{row.name}-seed3: to do" in text and "seed1" not in text and "2 archived, 1 to do" in text
    assert "about 0.1 core-hours left" in text and "without an estimate" not in text  # 16 x 15 s, archived
    ran.clear()  # one archived seed asked: the summary keeps its three seeds, and the archived ones count
    assert reproduce.main(["ml100k", "--rows", row.name, "--seeds", "1", "--out", "results"]) == 0
    summary = json.loads((out / "ml100k.json").read_text())
    assert ran == [] and summary["seeds"] == [1, 2, 3] and summary["rows"][row.name]["archived_seeds"] == [1, 2]
    ran.clear()  # a summary of seed 1 alone (its file removed) splits the archived group: it does not count
    (out / "ml100k.json").unlink()
    reproduce.main(["ml100k", "--rows", row.name, "--seeds", "1", "--out", "results"])
    assert ran == [(row.name, 1)]


def test_an_archived_row_made_with_other_props_is_not_averaged(tmp_path, monkeypatch):
    out = tmp_path / "results"
    row = reproduce.table_rows("ml100k")[0]
    fake_run(out, "ml100k", row, 1, 0.1, best=5)
    archive_table(tmp_path, monkeypatch, "ml100k", [1])
    path = archive.archive_path(out, "ml100k")
    kept = json.loads(path.read_text())
    kept["rows"][row.name]["setup"]["learning_rate"] = 0.002  # the props changed after the archive was made
    path.write_text(json.dumps(kept))
    entry = reproduce.summarise(out, "ml100k", [1])["rows"][row.name]
    assert entry["stale_runs"] == ["archived seeds 1: learning_rate ran 0.002, now 0.001"] and "test" not in entry


def test_a_partial_row_needs_its_seeds_named_and_an_archive_is_made_once(tmp_path, monkeypatch):
    out = tmp_path / "results"
    row = reproduce.table_rows("ml100k")[0]
    fake_run(out, "ml100k", row, 2, 0.1, best=5)
    monkeypatch.setattr(reproduce, "ROOT", tmp_path)
    monkeypatch.setattr(archive, "_load_reproduce", lambda: reproduce)
    reproduce.write_summary(out, "ml100k", [1, 2])
    with pytest.raises(SystemExit, match=f"1 of 2 seeds finished; name them with --row-seeds {row.name}=S1,S2"):
        archive.main(["ml100k", "--made-from", "a test", "--out", "results"])
    assert archive.main(["ml100k", "--made-from", "a test", "--out", "results", "--row-seeds", f"{row.name}=2"]) == 0
    assert json.loads(archive.archive_path(out, "ml100k").read_text())["rows"][row.name]["seeds"] == [2]
    with pytest.raises(SystemExit):
        archive.main(["ml100k", "--made-from", "again", "--out", "results"])


def test_an_archived_grid_reads_as_its_runs_did_and_a_named_summary_reuses_its_seed(tmp_path, monkeypatch):
    grid = importlib.util.module_from_spec(importlib.util.spec_from_file_location("grid", ROOT / "scripts" / "grid.py"))
    grid.__spec__.loader.exec_module(grid)
    monkeypatch.setattr(archive, "_load_grid", lambda: grid)
    out = tmp_path / "results"
    table = grid.table_name("BPR", "ML100K_general")
    rows = grid.grid_rows("BPR", "ML100K_general", grid.expand({"reg_weight": ["0.1", "0.01"]}), [])
    for row, valid in zip(rows, (0.3, 0.2), strict=True):
        fake_run(out, table, row, 2020, valid, best=5)
        results = reproduce.run_dir(out, table, row, 2020) / "results.json"
        results.write_text(json.dumps({**json.loads(results.read_text()), "valid": {"recall@20": valid}}))
    launched = []
    monkeypatch.setattr(grid.reproduce, "run_one", lambda o, t, row, seed, device: launched.append((row.name, seed)))
    args = ["--model", "BPR", "--grid", "reg_weight=0.1,0.01", "--out", str(out)]
    assert grid.main(args) == 0
    before = json.loads((out / "grid" / "BPR-ML100K_general.json").read_text())
    assert archive.main(["grid/BPR-ML100K_general", "--made-from", "a test", "--out", str(out)]) == 0
    shutil.rmtree(out / "runs")
    assert grid.main(args) == 0 and launched == []
    after = json.loads((out / "grid" / "BPR-ML100K_general.json").read_text())
    assert after["selected"] == before["selected"] == "reg_weight=0.1"
    for name, entry in before["settings"].items():
        assert {**entry, "archived_seeds": [2020]} == after["settings"][name]
    assert grid.main(["--model", "BPR", "--grid", "reg_weight=0.1", "--seeds", "2020", "2021", "--name", "BPR-confirm",
                      "--out", str(out)]) == 0
    assert launched == [("reg_weight=0.1", 2021)]  # seed 2020 of the setting is the archived one
    assert grid.main([*args, "--status"]) == 0  # an archived grid summary has no epoch times: no estimate, no error
