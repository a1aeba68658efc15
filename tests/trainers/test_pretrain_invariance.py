"""The pre-training objective does not depend on the number of processes: W = 2 processes on B/2 rows each give the
gradient of 1 process on the global batch B, with the interest regulariser weighted in (gamma = 1)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from accelerate.utils import set_seed

from tests.trainers.corpus import make_corpus
from tests.trainers.invariance import GLOBAL_ROWS, build_model, flat_grad

ROOT = Path(__file__).resolve().parents[2]


def reference_gradient(data_path: Path, gather: bool) -> torch.Tensor:
    """One process. Gathered negatives: the objective on the whole batch. Local negatives: each half scores its
    own in-batch candidates (the contrastive terms averaged over the halves), the regulariser is that of the whole
    batch (obtained as the difference of the whole-batch objective with gamma and without)."""
    set_seed(0)
    model, (seq, length, target) = build_model(str(data_path))

    def objective(rows: slice, gamma: float):
        model.gamma = gamma
        batch = {model.ITEM_SEQ: seq[rows], model.ITEM_SEQ_LEN: length[rows], model.POS_ITEM_ID: target[rows]}
        return model.pretrain_loss(batch, gather_negatives=False)["loss"]

    whole = slice(0, GLOBAL_ROWS)
    if gather:
        loss = objective(whole, 1.0)
    else:
        halves = [slice(0, GLOBAL_ROWS // 2), slice(GLOBAL_ROWS // 2, GLOBAL_ROWS)]
        contrastive = sum(objective(h, 0.0) for h in halves) / 2
        loss = contrastive + objective(whole, 1.0) - objective(whole, 0.0)
    loss.backward()
    return flat_grad(model)


@pytest.mark.parametrize("gather", ["gather", "local"])
def test_two_processes_give_the_single_process_gradient(tmp_path, gather):
    data = make_corpus(tmp_path)
    out = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(ROOT / "tests" / "trainers" / "grad_worker.py"), str(data), str(out), gather],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    widths = [int((out / f"width{r}.txt").read_text()) for r in range(2)]
    assert widths[0] != widths[1]  # the halves' interest-token widths differ: the global width matters
    ddp = torch.load(out / "grad.pt", weights_only=True)
    reference = reference_gradient(data, gather == "gather")
    assert ddp.shape == reference.shape and reference.abs().sum() > 0
    relative = (ddp - reference).norm() / reference.norm()
    assert relative < 1e-5, f"relative gradient difference {relative:.2e}"
