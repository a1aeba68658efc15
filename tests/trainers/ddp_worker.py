"""Run under ``torchrun``/``accelerate launch`` with 2 CPU processes by tests/trainers/test_pretrain.py.

Each process starts from DIFFERENT random weights and trains on different rows; with real DDP the parameters are
identical on every process after every step. Writes ``<out>/rank<r>.json`` with what the test asserts.
"""

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from accelerate.utils import set_seed

from missrec.config import build_config
from missrec.data.pretrain import MultiDomainSequentialDataset
from missrec.models.missrec import MISSRec
from missrec.runner_pretrain import end_distributed, make_accelerator
from missrec.trainers.pretrain import AcceleratePretrainer
from tests.trainers.corpus import PRETRAIN_TINY


def main(data_path: str, out: str, gather: str) -> None:
    acc = make_accelerator(cpu=True)
    overrides = {**PRETRAIN_TINY, "data_path": data_path, "device": "cpu", "learning_rate": 0.01,
                 "gather_negatives": gather == "gather"}
    cfg = build_config(MISSRec, "AB", "pretrain", overrides=overrides)
    (train,) = MultiDomainSequentialDataset(cfg).build()
    set_seed(100 + acc.process_index)  # different initial weights: DDP must broadcast rank 0's at prepare
    model = MISSRec(cfg, train)
    trainer = AcceleratePretrainer(cfg, model, train.inter_feat, acc, Path(out), Path(out) / "saved", {})
    start = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    trainer.fit(max_steps=4)
    end = torch.cat([p.detach().flatten() for p in model.parameters()])
    first_rows = next(iter(trainer.loader))[2]
    ends = [torch.zeros_like(end) for _ in range(acc.num_processes)]
    dist.all_gather(ends, end)
    rows = [torch.zeros_like(first_rows) for _ in range(acc.num_processes)]
    dist.all_gather(rows, first_rows.contiguous())
    report = {
        "world": acc.num_processes,
        "params_equal_across_ranks": all(torch.equal(e, ends[0]) for e in ends),
        "params_moved": not torch.equal(start, end),
        "rows_differ_across_ranks": not torch.equal(rows[0], rows[1]),
        "steps": trainer.global_step,
    }
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / f"rank{acc.process_index}.json").write_text(json.dumps(report))
    trainer.close()
    del trainer, model
    end_distributed(acc)


if __name__ == "__main__":
    main(*sys.argv[1:4])
