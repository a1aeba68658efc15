"""Run folders: a new run never mixes with another run's files; --overwrite clears run outputs and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from missrec.errors import OutputError
from missrec.reporting import default_run_dir
from missrec.run_folder import lock_holder, prepare_run_folder


def test_an_absent_or_empty_folder_is_used(tmp_path):
    assert prepare_run_folder(tmp_path / "a" / "b").is_dir()
    (tmp_path / "empty").mkdir()
    assert prepare_run_folder(tmp_path / "empty") == tmp_path / "empty"


def test_a_used_folder_is_refused_then_cleared_with_overwrite(tmp_path):
    run = tmp_path / "run"
    (run / "tensorboard").mkdir(parents=True)
    (run / "tensorboard" / "events.1").write_text("old")
    (run / "log.txt").write_text("old run")
    with pytest.raises(OutputError, match=r"already holds log\.txt, tensorboard .*add --overwrite"):
        prepare_run_folder(run)
    assert (run / "log.txt").read_text() == "old run"
    prepare_run_folder(run, overwrite=True)
    assert [p.name for p in run.iterdir()] == [".lock"]  # the run's own lock, held while it runs


def test_overwrite_never_clears_foreign_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "log.txt").write_text("a run's")
    with pytest.raises(OutputError, match=r"holds files a run does not write \(notes\.txt\)"):
        prepare_run_folder(tmp_path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.txt", "notes.txt"]


def test_a_file_is_not_a_run_folder(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(OutputError, match="expected a run folder, found a file"):
        prepare_run_folder(tmp_path / "out")
    with pytest.raises(OutputError, match=r"cannot write there \(Not a directory\)"):
        prepare_run_folder(tmp_path / "out" / "run")


def test_default_folders_of_the_same_second_differ(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("missrec.reporting.time.strftime", lambda *a: "T")
    first = default_run_dir("m", "d")
    first.mkdir(parents=True)
    assert first.name == "m-d-T" and default_run_dir("m", "d").name == "m-d-T-2"


def test_a_folder_another_process_runs_in_is_refused_before_anything_changes(tmp_path):
    run = tmp_path / "run"
    prepare_run_folder(run)
    (run / "log.txt").write_text("the other run's log")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR); "
         "fcntl.flock(fd, fcntl.LOCK_EX); os.ftruncate(fd, 0); os.write(fd, b'4242'); print('held', flush=True); "
         "time.sleep(60)", str(run / ".lock")],
        stdout=subprocess.PIPE, text=True)
    try:
        prepare_run_folder(tmp_path / "elsewhere")  # this process moves on: its lock on run/ is released
        assert holder.stdout.readline().strip() == "held"
        assert lock_holder(run) == "4242" and lock_holder(tmp_path / "elsewhere") == str(os.getpid())
        with pytest.raises(OutputError, match=r"another process \(pid 4242\) is running in this run folder"):
            prepare_run_folder(run, overwrite=True)
        assert (run / "log.txt").read_text() == "the other run's log"
    finally:
        holder.kill()
        holder.wait()
    assert lock_holder(run) is None
    prepare_run_folder(run, overwrite=True)  # free again once that process has ended
    assert not (run / "log.txt").exists()
