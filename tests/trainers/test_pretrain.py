"""Pre-training with Accelerate: checkpoints, real gradient synchronisation across 2 processes, exact resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from missrec.checkpoint import load_checkpoint
from missrec.runner_pretrain import run_pretrain
from tests.trainers.corpus import PRETRAIN_TINY, make_corpus

ROOT = Path(__file__).resolve().parents[2]


def overrides(data_path, **extra):
    return {**PRETRAIN_TINY, "data_path": str(data_path), **extra}


def test_single_process_pretraining_writes_named_checkpoints(tmp_path):
    data = make_corpus(tmp_path)
    history = run_pretrain("MISSRec", "AB", epochs=4, output_dir=tmp_path / "run", checkpoint_dir=tmp_path / "saved",
                           overrides=overrides(data, save_step=2, learning_rate=0.005), cpu=True)
    assert [h["epoch"] for h in history] == [0, 1, 2, 3]
    assert history[0]["interest_clusters"] == 29  # ceil(0.2 * 2 modalities * 72 items)
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert sorted(p.name for p in (tmp_path / "saved").iterdir()) == [
        "MISSRec-AB-2.json", "MISSRec-AB-2.safetensors", "MISSRec-AB-4.json", "MISSRec-AB-4.safetensors"]
    state, meta = load_checkpoint(tmp_path / "saved" / "MISSRec-AB-4")
    assert meta["epoch"] == 4 and meta["corpus"] == "AB" and meta["data"]["domains"] == ["DomA", "DomB"]
    assert meta["config"]["hidden_size"] == 16 and meta["final_loss"] == pytest.approx(history[-1]["train_loss"])
    assert "adaptors.text.weight" in state and not any(k.startswith(("interest_", "feature_tables")) for k in state)


def _launch(command, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("gather", ["gather", "local"])
def test_two_processes_keep_identical_parameters(tmp_path, gather):
    """torchrun, 2 CPU processes (gloo): different initial weights and rows per rank, identical parameters after
    every step; with in-batch negatives gathered across ranks or kept local."""
    data = make_corpus(tmp_path)
    out = tmp_path / "ddp"
    done = _launch([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                    str(ROOT / "tests" / "trainers" / "ddp_worker.py"), str(data), str(out), gather], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    reports = [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]
    for report in reports:
        assert report == {"world": 2, "params_equal_across_ranks": True, "params_moved": True,
                          "rows_differ_across_ranks": True, "steps": 4}


@pytest.mark.slow
def test_the_readme_cpu_launch_command_runs_two_processes(tmp_path):
    """`ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 ddp_pretrain.py ...`"""
    data = make_corpus(tmp_path)
    flags = [f"{k}={v}" for k, v in overrides(data).items()]
    done = _launch([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                    "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                    str(ROOT / "ddp_pretrain.py"), "-d", "AB", "--epochs", "1", "--output", str(tmp_path / "run"),
                    "--checkpoint-dir", str(tmp_path / "saved"), *flags], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    log = (tmp_path / "run" / "log.txt").read_text()
    assert "2 process(es)" in log and "per process x 2" in log
    _, meta = load_checkpoint(tmp_path / "saved" / "MISSRec-AB-1")
    assert meta["processes"] == 2


def _cli(args, tmp_path, env_extra=None, popen=False):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    command = [sys.executable, str(ROOT / "ddp_pretrain.py"), *args]
    if popen:
        return subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


def _flags(data, out, saved, epochs=3):
    tiny = [f"{k}={v}" for k, v in overrides(data, train_batch_size=8, state_every_steps=5, learning_rate=0.005).items()]
    return ["-d", "AB", "--cpu", "--epochs", str(epochs), "--output", str(out), "--checkpoint-dir", str(saved), *tiny]


@pytest.mark.slow
def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path):
    data = make_corpus(tmp_path)
    reference = _cli(_flags(data, tmp_path / "ref", tmp_path / "ref_saved"), tmp_path)
    assert reference.returncode == 0, reference.stderr[-2000:]

    job = _cli(_flags(data, tmp_path / "run", tmp_path / "saved"), tmp_path, popen=True)
    position = tmp_path / "run" / "state" / "position.json"
    deadline = time.time() + 300
    while time.time() < deadline and job.poll() is None:
        if position.is_file() and json.loads(position.read_text())["global_step"] >= 10:
            break
        time.sleep(0.02)
    assert job.poll() is None, "the run finished before it could be killed"
    job.send_signal(signal.SIGKILL)
    job.wait()
    killed_at = json.loads(position.read_text())["global_step"]
    assert not (tmp_path / "saved" / "MISSRec-AB-3.safetensors").exists()

    refused = _cli(_flags(data, tmp_path / "run", tmp_path / "saved"), tmp_path)
    assert refused.returncode == 2 and "add --resume" in refused.stderr
    resumed = _cli([*_flags(data, tmp_path / "run", tmp_path / "saved"), "--resume"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    log = (tmp_path / "run" / "log.txt").read_text()
    assert f"(global {killed_at})" in log  # restarted from the last saved step: at most one interval (5 steps) lost
    ours, _ = load_checkpoint(tmp_path / "saved" / "MISSRec-AB-3")
    ref, _ = load_checkpoint(tmp_path / "ref_saved" / "MISSRec-AB-3")
    assert ours.keys() == ref.keys()
    for key in ref:
        assert torch.equal(ours[key], ref[key]), key


def test_unisrec_pretrains_and_transfers(tmp_path):
    data = make_corpus(tmp_path)
    history = run_pretrain("UniSRec", "AB", epochs=2, output_dir=tmp_path / "run", checkpoint_dir=tmp_path / "saved",
                           overrides=overrides(data, save_step=1, learning_rate=0.005), cpu=True)
    assert len(history) == 2 and "interest_clusters" not in history[0]
    state, meta = load_checkpoint(tmp_path / "saved" / "UniSRec-AB-2")
    assert meta["model"] == "UniSRec" and any(k.startswith("moe_adaptor.") for k in state)
    assert not any(k.startswith("item_embedding") for k in state)  # pre-training has no item IDs

    from missrec.runner import run_finetune

    results = run_finetune("UniSRec", "DomA", "inductive", pretrained=tmp_path / "saved" / "UniSRec-AB-2", epochs=1,
                           output_dir=tmp_path / "ft", overrides={**PRETRAIN_TINY, "data_path": str(data / "domains"),
                                                                  "device": "cpu", "train_batch_size": 32})
    transfer = results["transfer"]
    assert transfer["missing"] == [] and transfer["unexpected"] == []
    assert all(k.startswith(("position_embedding.", "trm_encoder.")) for k in transfer["frozen"])
