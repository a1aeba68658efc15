"""scripts/reproduce.py: the rows of each table, resumable runs, and the summary over seeds."""

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("reproduce", ROOT / "scripts" / "reproduce.py")
reproduce = importlib.util.module_from_spec(spec)
sys.modules["reproduce"] = reproduce  # dataclasses look their module up
spec.loader.exec_module(reproduce)


def fake_run(out: Path, table: str, row, seed: int, hit: float, best: int, hardware: str | None = None) -> None:
    folder = reproduce.run_dir(out, table, row, seed)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({**reproduce.row_config(row)[0], "seed": seed}))
    (folder / "results.json").write_text(
        json.dumps(
            {
                "test": {"hit@10": hit, "ndcg@10": hit / 2},
                "best_epoch": best,
                "epochs_run": best + 11,
                "history": [{"train_seconds": 10.0}, {"train_seconds": 20.0}],
                **({"test_new_items": {"hit@10": hit / 4}, "test_subset_rows": {"test_new_items": 211}}
                   if table == "mllatest" else {}),
                **({"hardware": hardware} if hardware else {}),
            }
        )
    )


def test_tables_list_every_row_once_claim_bearing_first():
    rows = reproduce.table_rows("ml100k")
    assert len(rows) == 13 and len({r.name for r in rows}) == 13
    assert [r.name for r in rows[:3]] == [
        "MISSRec-transductive-scratch",
        "UniSRec-transductive-scratch",
        "SASRec-transductive-scratch",
    ]
    assert all("-p" in r.args and "--zero-shot" not in r.args for r in rows if r.labels["init"] == "pre-trained")
    zero_shot = [r for r in rows if r.labels["init"] == "zero-shot"]
    assert [r.name for r in zero_shot] == ["MISSRec-inductive-zero-shot", "UniSRec-inductive-zero-shot"]
    assert all({"-p", "--zero-shot"} <= set(r.args) and r.labels["setting"] == "inductive" for r in zero_shot)
    assert rows[-1].name == "MISSRec-transductive-pre-trained-unfrozen" and "fix_enc=false" in rows[-1].args
    graph = reproduce.table_rows("graph")
    assert len(graph) == 2 * len(reproduce.GRAPH_MODELS) and all(r.entry == "train_graph.py" for r in graph)


def test_all_runs_the_claim_bearing_zero_shot_and_pop_rows_of_both_datasets_first_then_the_rest_then_graph(tmp_path, monkeypatch):
    order = reproduce.schedule("all")
    n = reproduce.FIRST_ROWS
    assert [t for t, _ in order[: 2 * n]] == ["ml100k"] * n + ["mllatest"] * n
    assert {r.name for _, r in order[:n]} == {
        "MISSRec-transductive-scratch", "UniSRec-transductive-scratch", "SASRec-transductive-scratch",
        "MISSRec-transductive-pre-trained", "MISSRec-inductive-scratch", "MISSRec-inductive-pre-trained",
        "MISSRec-inductive-zero-shot", "UniSRec-inductive-zero-shot", "Pop-transductive-scratch",
    }
    assert [t for t, _ in order[2 * n : 26]] == ["ml100k"] * 4 + ["mllatest"] * 4
    assert all(t == "graph" for t, _ in order[26:]) and len(order) == 26 + 2 * len(reproduce.GRAPH_MODELS)
    ran = []
    monkeypatch.setattr(reproduce, "run_one", lambda out, table, row, seed, device: ran.append((table, row.name, seed)))
    assert reproduce.main(["all", "--seeds", "1", "2", "--out", str(tmp_path)]) == 0
    assert ran[:4] == [("ml100k", order[0][1].name, 1), ("ml100k", order[0][1].name, 2),
                       ("ml100k", order[1][1].name, 1), ("ml100k", order[1][1].name, 2)]
    assert len(ran) == 2 * len(order)
    assert all((tmp_path / f"{t}.md").is_file() for t in ("ml100k", "mllatest", "graph"))


def test_summary_is_mean_and_std_over_finished_seeds_and_marks_pending_rows(tmp_path):
    rows = reproduce.table_rows("mllatest")
    for seed, hit in ((1, 0.10), (2, 0.20)):
        fake_run(tmp_path, "mllatest", rows[0], seed, hit, best=seed * 10)
    summary = reproduce.summarise(tmp_path, "mllatest", [1, 2, 3])
    first = summary["rows"][rows[0].name]
    assert first["seeds_done"] == 2 and first["test"]["hit@10"][0] == pytest.approx(0.15)
    assert first["test"]["hit@10"][1] == pytest.approx(0.0707107, rel=1e-5)  # sample std of (0.1, 0.2)
    assert first["test_new_items"]["hit@10"][0] == pytest.approx(0.0375)
    assert first["best_epoch"][0] == 15 and first["seconds_per_epoch"][0] == 15
    text = reproduce.markdown(summary, ["hit@10", "ndcg@10"])
    completes = f"python scripts/reproduce.py mllatest --rows {rows[0].name} --seeds 1 2 3"
    assert f"| 2/3 pending (`{completes}`) |" in text and "0.1500 ± 0.0707" in text
    command = f"python scripts/reproduce.py mllatest --rows {rows[1].name} --seeds 1 2 3"
    assert f"| {rows[1].name} | pending (`{command}`)" in text
    assert "(new items, 211 users):" in text and first["test_new_items_rows"] == 211


def test_running_some_seeds_adds_to_the_summary_and_never_narrows_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(reproduce, "run_one", lambda *a: pytest.fail("every run asked for has finished"))
    rows = reproduce.table_rows("mllatest")
    for seed, hit in ((1, 0.10), (2, 0.20), (3, 0.30)):
        fake_run(tmp_path, "mllatest", rows[0], seed, hit, best=seed * 10)
    args = ["mllatest", "--rows", rows[0].name, "--out", str(tmp_path)]
    assert reproduce.main([*args, "--seeds", "1", "2", "3"]) == 0
    assert reproduce.main([*args, "--seeds", "2"]) == 0  # one seed of one row: the table stays a three-seed table
    summary = json.loads((tmp_path / "mllatest.json").read_text())
    assert summary["seeds"] == [1, 2, 3] and summary["rows"][rows[0].name]["seeds_done"] == 3
    assert "| 3/3 |" in (tmp_path / "mllatest.md").read_text()
    del summary["seeds"]  # a summary written before they recorded their seeds: its rows' commands name them
    (tmp_path / "mllatest.json").write_text(json.dumps(summary))
    assert reproduce.covered_seeds(tmp_path / "mllatest.json", [2]) == [1, 2, 3]
    monkeypatch.setattr(reproduce, "run_one", lambda out, table, row, seed, device: None)
    capsys.readouterr()
    assert reproduce.main([*args, "--seeds", "4"]) == 0  # a fourth seed is added to the three
    assert "the summary covers seeds 1 2 3 4" in capsys.readouterr().out
    entry = json.loads((tmp_path / "mllatest.json").read_text())["rows"][rows[0].name]
    assert entry["seeds_asked"] == 4 and entry["command"].endswith("--seeds 1 2 3 4")


def test_a_zero_shot_row_has_no_best_epoch_nor_epoch_time(tmp_path):
    row = next(r for r in reproduce.table_rows("ml100k") if r.labels["init"] == "zero-shot")
    for seed in (1, 2):
        fake_run(tmp_path, "ml100k", row, seed, 0.02 * seed, best=0)
        results = reproduce.run_dir(tmp_path, "ml100k", row, seed) / "results.json"
        untrained = {**json.loads(results.read_text()), "best_epoch": None, "epochs_run": 0, "history": []}
        results.write_text(json.dumps(untrained))
    summary = reproduce.summarise(tmp_path, "ml100k", [1, 2])
    entry = summary["rows"][row.name]
    assert entry["best_epoch"] is None and entry["seconds_per_epoch"] is None and entry["epochs_run"][0] == 0
    assert f"| {row.name} | 2/2 | 0.0300 ± 0.0141 | – | 0.0 | – |" in reproduce.markdown(summary, ["hit@10"])


def test_one_seed_shows_its_value_without_a_spread_and_the_header_names_the_runs_hardware(tmp_path):
    rows = reproduce.table_rows("ml100k")
    fake_run(tmp_path, "ml100k", rows[0], 1, 0.10, best=5, hardware="NVIDIA H200, torch 2.9.0")
    fake_run(tmp_path, "ml100k", rows[1], 1, 0.20, best=5)  # written before runs recorded their hardware
    summary = reproduce.summarise(tmp_path, "ml100k", [1, 2])
    text = reproduce.markdown(summary, ["hit@10"])
    assert f"| {rows[0].name} | 1/2 pending (`" in text and "`) | 0.1000 |" in text
    assert "±" not in text.split("\n", 1)[1]
    assert summary["rows"][rows[0].name]["hardware"] == ["NVIDIA H200, torch 2.9.0"]
    assert summary["rows"][rows[1].name]["hardware"] == [reproduce.machine()]
    assert "NVIDIA H200, torch 2.9.0" in text.splitlines()[0] and reproduce.machine() in text.splitlines()[0]
    assert (f"Rows ran on different machines, so s/epoch compares only within one ({reproduce.machine()}: "
            f"{rows[1].name}; NVIDIA H200, torch 2.9.0: {rows[0].name})") in text


def test_a_row_whose_seeds_ran_on_two_machines_marks_its_epoch_time(tmp_path):
    rows = reproduce.table_rows("ml100k")
    fake_run(tmp_path, "ml100k", rows[0], 1, 0.10, best=5, hardware="NVIDIA H200, torch 2.9.0")
    fake_run(tmp_path, "ml100k", rows[0], 2, 0.20, best=5)
    fake_run(tmp_path, "ml100k", rows[1], 1, 0.20, best=5)
    text = reproduce.markdown(reproduce.summarise(tmp_path, "ml100k", [1, 2]), ["hit@10"])
    mixed, single = (next(line for line in text.splitlines() if line.startswith(f"| {r.name} |")) for r in rows[:2])
    assert mixed.endswith(f"{reproduce.MIXED_MARK} |") and not single.endswith(f"{reproduce.MIXED_MARK} |")
    assert f"{reproduce.MIXED_MARK} s/epoch averaged over runs on more than one of them" in text


def test_a_table_run_on_one_machine_has_no_machines_note(tmp_path):
    rows = reproduce.table_rows("ml100k")
    for row in rows[:2]:
        fake_run(tmp_path, "ml100k", row, 1, 0.10, best=5)
    assert "different machines" not in reproduce.markdown(reproduce.summarise(tmp_path, "ml100k", [1]), ["hit@10"])


def test_an_interrupted_run_resumes_and_one_without_state_starts_again(tmp_path, monkeypatch):
    row = reproduce.table_rows("ml100k")[0]
    commands = []

    class FakeChild:  # records the command instead of running it
        def __init__(self, cmd, **kwargs):
            commands.append(cmd)

        def wait(self):
            return 1

    monkeypatch.setattr(reproduce.subprocess, "Popen", FakeChild)
    folder = reproduce.run_dir(tmp_path, "ml100k", row, 1)
    folder.mkdir(parents=True)
    reproduce.run_one(tmp_path, "ml100k", row, 1, "cpu")
    (folder / "state").mkdir()
    (folder / "state" / "position.json").write_text('{"epoch": 3, "step": 0, "global_step": 3}')
    reproduce.run_one(tmp_path, "ml100k", row, 1, "cpu")
    assert "--overwrite" in commands[0] and "--resume" not in commands[0]
    assert "--resume" in commands[1] and "--overwrite" not in commands[1]
    log = (tmp_path / "runs" / "ml100k" / f"{row.name}-seed1.stdout").read_text()
    assert log.count("==== ") == 2 and "--overwrite" in log and "--resume" in log  # both attempts kept


def test_a_run_inside_the_repository_is_launched_with_a_relative_output(tmp_path, monkeypatch):
    """results.json and the logs then name results/runs/..., not the machine's checkout."""
    commands = []
    monkeypatch.setattr(reproduce.subprocess, "Popen", lambda cmd, **kw: commands.append(cmd) or FakeExit())
    monkeypatch.setattr(reproduce, "ROOT", tmp_path / "repo")
    row = reproduce.table_rows("ml100k")[0]
    reproduce.run_one(tmp_path / "repo" / "results", "ml100k", row, 1, "cpu")
    reproduce.run_one(tmp_path / "elsewhere", "ml100k", row, 1, "cpu")
    inside, outside = (cmd[cmd.index("--output") + 1] for cmd in commands)
    assert inside == str(Path("results") / "runs" / "ml100k" / f"{row.name}-seed1")
    assert outside == str(tmp_path / "elsewhere" / "runs" / "ml100k" / f"{row.name}-seed1")


class FakeExit:
    def wait(self):
        return 1


def test_a_run_another_process_holds_is_skipped_not_launched(tmp_path, monkeypatch, capsys):
    from missrec.run_folder import lock_run_folder

    row = reproduce.table_rows("ml100k")[0]
    folder = reproduce.run_dir(tmp_path, "ml100k", row, 1)
    folder.mkdir(parents=True)
    lock_run_folder(folder)  # this process now holds it, as a second table command's run would
    monkeypatch.setattr(reproduce.subprocess, "Popen", lambda *a, **k: pytest.fail("launched a held run"))
    reproduce.run_one(tmp_path, "ml100k", row, 1, "cpu")
    assert f"{row.name} seed 1: skipped, another process (pid {os.getpid()}) is running it" in capsys.readouterr().out


def test_rows_whose_checkpoint_is_missing_are_skipped_not_failed(tmp_path, monkeypatch, capsys):
    ran = []
    monkeypatch.setattr(reproduce, "run_one", lambda out, table, row, seed, device: ran.append(row.name))
    monkeypatch.setattr(reproduce, "CHECKPOINTS", {"MISSRec": "absent.safetensors", "UniSRec": "absent.safetensors"})
    rows = reproduce.table_rows("ml100k")
    assert reproduce.main(["ml100k", "--seeds", "1", "--out", str(tmp_path)]) == 0
    assert ran == [r.name for r in rows if r.labels["init"] == "scratch"]
    assert "skipped until absent.safetensors exists" in capsys.readouterr().out


def test_stopping_the_table_stops_its_runs(tmp_path):
    import threading
    import time

    sleeper = tmp_path / "sleeper.py"
    started = tmp_path / "started"
    sleeper.write_text(f"import pathlib, time\npathlib.Path({str(started)!r}).write_text('x')\ntime.sleep(120)\n")
    row = reproduce.Row("sleeper", str(sleeper), ())
    thread = threading.Thread(target=reproduce.run_one, args=(tmp_path, "ml100k", row, 1, "cpu"))
    thread.start()
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert started.exists() and len(reproduce.RUNNING) == 1
    reproduce.stop_runs(timeout=30)
    thread.join(30)
    assert not thread.is_alive() and not reproduce.RUNNING


def test_a_table_started_with_sigint_ignored_still_stops_on_it_and_so_do_its_runs():
    import subprocess

    child = "import signal; print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)"
    table = (f"import importlib.util, subprocess, sys, signal; "
             f"spec = importlib.util.spec_from_file_location('reproduce', {str(ROOT / 'scripts' / 'reproduce.py')!r}); "
             "m = importlib.util.module_from_spec(spec); sys.modules['reproduce'] = m; spec.loader.exec_module(m); "
             "print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN); m.handle_interrupts(); "
             "print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN, flush=True); "
             f"subprocess.run([sys.executable, '-c', {child!r}])")
    background = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "  # as `nohup ... &` in a script
                  f"os.execv(sys.executable, [sys.executable, '-c', {table!r}])")
    out = subprocess.run([sys.executable, "-c", background], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         check=False)
    assert out.stdout.split() == ["True", "False", "False"], out.stderr  # inherited ignored; handled; the run's default


def test_status_lists_unfinished_runs_with_their_saved_epochs_and_estimates_the_work_left(tmp_path, capsys):
    rows = reproduce.table_rows("ml100k")
    fake_run(tmp_path, "ml100k", rows[0], 1, 0.10, best=5)  # 16 epochs of 15 s
    stopped = reproduce.run_dir(tmp_path, "ml100k", rows[0], 2) / "state"
    stopped.mkdir(parents=True)
    (stopped / "position.json").write_text(json.dumps({"epoch": 6, "step": 0, "global_step": 6}))
    assert reproduce.main(["ml100k", "--rows", rows[0].name, rows[1].name, "--seeds", "1", "2", "--status",
                           "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert f"{rows[0].name}-seed1" not in text  # finished runs are not listed
    assert f"{rows[0].name}-seed2: stopped, 6 epochs saved" in text
    assert f"{rows[1].name}-seed1: to do" in text and f"{rows[1].name}-seed2: to do" in text
    assert "1 done, 1 stopped, 2 to do" in text
    assert "about 0.0 core-hours left for the runs whose model has finished runs there" in text and "2 runs without an estimate yet" in text  # (16 - 6) x 15 s
    assert not (tmp_path / "ml100k.md").exists()  # --status runs and writes nothing
    assert reproduce.main(["ml100k", "--rows", rows[1].name, "--seeds", "1", "--status", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "1 to do; no estimate yet: no finished run of the same model and dataset to go by"
    )  # not "about 0.0 core-hours left"
    assert reproduce.main(["ml100k", "--rows", rows[0].name, "--seeds", "1", "--status", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 done; nothing left to run"


def test_the_work_left_is_estimated_from_this_machines_runs_where_there_are_any(tmp_path, capsys):
    rows = reproduce.table_rows("ml100k")

    def estimate() -> str:
        assert reproduce.main(["ml100k", "--rows", rows[0].name, "--seeds", "1", "2", "3", "--status",
                               "--out", str(tmp_path)]) == 0
        return capsys.readouterr().out.splitlines()[-1]

    fake_run(tmp_path, "ml100k", rows[0], 1, 0.10, best=5, hardware="NVIDIA H200, torch 2.9.0")  # 16 epochs of 15 s
    assert "about 0.1 core-hours left" in estimate()  # two runs of 16 x 15 s: only a GPU's runs to go by
    results = reproduce.run_dir(tmp_path, "ml100k", rows[0], 2) / "results.json"
    fake_run(tmp_path, "ml100k", rows[0], 2, 0.10, best=5, hardware=reproduce.machine())
    slow = {**json.loads(results.read_text()), "history": [{"train_seconds": 1500.0}]}
    results.write_text(json.dumps(slow))
    assert "about 6.7 core-hours left" in estimate()  # one run of 16 x 1,500 s, this machine's rate alone


def test_a_run_folder_held_by_a_process_reads_as_running(tmp_path):
    from missrec.run_folder import lock_run_folder

    lock_run_folder(tmp_path)  # this process now holds it
    assert reproduce.run_status(tmp_path) == ("running", None)


def test_a_row_whose_seeds_ran_different_setups_is_not_averaged(tmp_path):
    rows = reproduce.table_rows("ml100k")
    today = reproduce.row_config(rows[0])[0]
    assert today["learning_rate"] == 0.001
    for seed, learning_rate in ((1, 0.001), (2, 0.002)):  # seed 2 was made before a change of the props
        fake_run(tmp_path, "ml100k", rows[0], seed, 0.1, best=5)
        config = {**today, "seed": seed, "device": "cpu", "learning_rate": learning_rate, "data_path": f"/m{seed}"}
        (reproduce.run_dir(tmp_path, "ml100k", rows[0], seed) / "config.json").write_text(json.dumps(config))
    for seed, digest in ((1, "aa"), (2, "bb")):  # the same configuration, another pre-trained checkpoint
        fake_run(tmp_path, "ml100k", rows[3], seed, 0.1, best=5)
        results = reproduce.run_dir(tmp_path, "ml100k", rows[3], seed) / "results.json"
        results.write_text(json.dumps({**json.loads(results.read_text()), "pretrained_sha256": digest}))
    fake_run(tmp_path, "ml100k", rows[1], 1, 0.1, best=5)
    fake_run(tmp_path, "ml100k", rows[1], 2, 0.3, best=5)
    summary = reproduce.summarise(tmp_path, "ml100k", [1, 2])
    first, pre_trained = summary["rows"][rows[0].name], summary["rows"][rows[3].name]
    # seed, device and paths may differ; a value the row no longer runs with may not
    assert first["stale_runs"] == [f"{rows[0].name}-seed2: learning_rate ran 0.002, now 0.001"] and "test" not in first
    assert pre_trained["mixed_setup"] == ["pretrained_sha256"] and "test" not in pre_trained
    assert summary["rows"][rows[1].name]["test"]["hit@10"][0] == pytest.approx(0.2)
    text = reproduce.markdown(summary, ["hit@10"])
    assert f"| {rows[0].name} | not averaged: runs made with another configuration than the row's today" in text
    assert f"| {rows[3].name} | not averaged: its runs differ in pretrained_sha256" in text


def test_a_run_made_before_a_key_existed_is_not_stale(tmp_path):
    row = reproduce.table_rows("graph")[0]
    fake_run(tmp_path, "graph", row, 1, 0.1, best=5)
    config_file = reproduce.run_dir(tmp_path, "graph", row, 1) / "config.json"
    config = json.loads(config_file.read_text())
    del config["tie_counts_as_improvement"]  # added to the props after the run, left at its default by the row
    config_file.write_text(json.dumps({**config, "a_key_the_code_dropped": 1}))
    assert reproduce.stale_runs([(f"{row.name}-seed1", reproduce.saved_config(config_file.parent))],
                                   *reproduce.row_config(row)) == []
    config_file.unlink()
    missing = reproduce.stale_runs([(f"{row.name}-seed1", reproduce.saved_config(config_file.parent))],
                                   *reproduce.row_config(row))
    assert missing == [f"{row.name}-seed1: no config.json"]


def test_repeated_seeds_unknown_rows_and_no_jobs_are_one_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        reproduce.main(["ml100k", "--seeds", "1", "1", "2", "--out", str(tmp_path)])
    assert "--seeds: [1] given more than once" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        reproduce.main(["ml100k", "--rows", "MISSRec-transductive-scratch", "MISSRec-scratch", "--out", str(tmp_path)])
    assert "--rows: ['MISSRec-scratch'] not in the ml100k table; its rows are" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        reproduce.main(["ml100k", "--jobs", "0", "--out", str(tmp_path)])
    assert "--jobs: expected a positive number" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_a_table_whose_run_folders_are_gone_is_not_rewritten_without_them(tmp_path, monkeypatch, capsys):
    row = reproduce.table_rows("ml100k")[0]
    for seed in (1, 2):
        fake_run(tmp_path, "ml100k", row, seed, 0.1, best=5)
    reproduce.write_summary(tmp_path, "ml100k", [1, 2])
    before = (tmp_path / "ml100k.md").read_text()
    shutil.rmtree(tmp_path / "runs")  # a new checkout without them
    ran = []
    monkeypatch.setattr(reproduce, "run_one", lambda out, table, r, seed, device: ran.append(seed))
    assert reproduce.main(["ml100k", "--seeds", "1", "2", "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert f"{row.name}: 2 seeds in ml100k.json, 0 here" in error and "python scripts/archive.py ml100k" in error
    assert ran == [] and (tmp_path / "ml100k.md").read_text() == before  # nothing run, nothing rewritten
    assert reproduce.main(["ml100k", "--seeds", "1", "2", "3", "--summary-only", "--out", str(tmp_path)]) == 0
