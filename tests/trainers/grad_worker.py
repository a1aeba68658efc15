"""Run under ``torchrun`` with 2 CPU processes by tests/trainers/test_pretrain_invariance.py.

Both processes build the same model (same seed, dropout and augmentation off so the objective is deterministic),
take their half of one fixed global batch of 8 rows, and back-propagate the pre-training objective through the
DDP-wrapped module. Rank 0 writes the synchronised gradient to ``<out>/grad.pt``; every rank writes its local
interest-token width to ``<out>/width<r>.txt``.
"""

import sys
from pathlib import Path

import torch
from accelerate.utils import set_seed

from missrec.modules.interests import interest_tokens
from missrec.runner_pretrain import end_distributed, make_accelerator
from missrec.trainers.pretrain import PretrainObjective
from tests.trainers.invariance import GLOBAL_ROWS, build_model, flat_grad


def main(data_path: str, out: str, gather: str) -> None:
    acc = make_accelerator(cpu=True)
    set_seed(0)
    model, rows = build_model(data_path)
    objective = acc.prepare(PretrainObjective(model, gather_negatives=gather == "gather", mask_same_target=False))
    per_process = GLOBAL_ROWS // acc.num_processes
    part = slice(acc.process_index * per_process, (acc.process_index + 1) * per_process)
    seq, length, target = (t[part] for t in rows)
    out_dict = objective(seq, length, target)
    acc.backward(out_dict["loss"])
    Path(out).mkdir(parents=True, exist_ok=True)
    width = interest_tokens(seq, model.interest_lookup)[0].shape[1]
    (Path(out) / f"width{acc.process_index}.txt").write_text(str(width))
    if acc.is_main_process:
        torch.save(flat_grad(model), Path(out) / "grad.pt")
    del objective, model, out_dict
    end_distributed(acc)


if __name__ == "__main__":
    main(*sys.argv[1:4])
