"""The deterministic pre-training setup shared by the 1-process reference and the 2-process worker."""

from __future__ import annotations

import torch

from missrec.config import build_config
from missrec.data.pretrain import MultiDomainSequentialDataset
from missrec.models.missrec import MISSRec
from tests.trainers.corpus import PRETRAIN_TINY

GLOBAL_ROWS = 8
# gamma = 1 makes the regulariser weigh as much as the contrastive terms (the measurement); dropout off and
# an item drop that drops nothing make the objective a deterministic function of the weights and the rows
DETERMINISTIC = {"gamma": 1.0, "hidden_dropout_prob": 0.0, "item_drop_ratio": 0.0, "item_drop_coefficient": 1.0,
                 "kmeans_backend": "torch"}


def build_model(data_path: str, **extra) -> tuple[MISSRec, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The model (interests discovered) and the first ``GLOBAL_ROWS`` corpus rows ``(histories, lengths, targets)``."""
    cfg = build_config(MISSRec, "AB", "pretrain",
                       overrides={**PRETRAIN_TINY, **DETERMINISTIC, "data_path": data_path, "device": "cpu", **extra})
    (train,) = MultiDomainSequentialDataset(cfg).build()
    model = MISSRec(cfg, train)
    model.discover_interests()
    feat = train.inter_feat
    rows = tuple(feat[f][:GLOBAL_ROWS] for f in (model.ITEM_SEQ, model.ITEM_SEQ_LEN, model.POS_ITEM_ID))
    return model, rows


def flat_grad(model: torch.nn.Module) -> torch.Tensor:
    """Every trainable parameter's gradient, flattened and concatenated (zeros where there is none)."""
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten()
                      for p in model.parameters() if p.requires_grad])
