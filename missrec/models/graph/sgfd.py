"""SGFD (ACM MM'23, "Semantic-Guided Feature Distillation for Multimodal Recommendation") on its two PyTorch hosts,
graph_models.md §4.11: ``SGFD-BM3`` and ``SGFD-GRCN``.

The host's modality feature encoder is replaced by the students of a :class:`SemanticDistiller` (teachers,
classifiers and the fusion classifier train alongside; only the students are used at prediction), and the host's
loss gains ``L_SGFD`` on the items of the batch:

* ``SGFD-BM3``: ``f_m = s_m`` (the raw features are fixed tensors); BM3 loss + ``L_SGFD`` on the positive items;
* ``SGFD-GRCN``: ``F_m = LeakyReLU(s_m)`` replaces GRCN's ``LeakyReLU(W_m X_m)``; GRCN loss + ``L_SGFD`` on the
  positive and negative items.

Both need item category labels (``GeneralDataset.item_labels``: SGFD's ``MetaData_normal.npy``, MovieLens genres).
Protocol note (§2.3): SGFD selects and early-stops on the test set; here selection uses the validation split the data
layer carves out of train, and metrics are the standard ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from missrec.data.general.dataset import GeneralDataset
from missrec.models.graph.bm3 import BM3
from missrec.models.graph.grcn import GRCN
from missrec.models.graph.sgfd_distiller import distiller_from_config
from missrec.registry import register_model


@register_model("SGFD-BM3", kind="general")
class SGFD_BM3(BM3):  # noqa: N801  (props/SGFD_BM3.yaml follows the class name)
    """BM3 whose modality encoders are SGFD students.

    Args:
        config: BM3's keys, plus ``ce_weight``, ``kd_weight``, ``t_decay``, ``distill_activation``,
            ``legacy_double_softmax``, ``legacy_linear_teacher``.
        dataset: the general dataset with modalities and item labels.
    """

    def init_modality_encoders(self, config, dataset: GeneralDataset) -> None:
        self.distiller = distiller_from_config(config, dataset, self.embedding_size, "SGFD-BM3")

    def modality_features(self, items: torch.Tensor) -> list[torch.Tensor]:
        return self.distiller.student_features(items)

    def calculate_loss(self, interaction) -> torch.Tensor:
        _, items, _ = self.batch(interaction)
        return super().calculate_loss(interaction) + self.distiller.loss(items)


@register_model("SGFD-GRCN", kind="general")
class SGFD_GRCN(GRCN):  # noqa: N801  (props/SGFD_GRCN.yaml follows the class name)
    """GRCN whose content feature encoders are SGFD students.

    Args:
        config: GRCN's keys, plus ``ce_weight``, ``kd_weight``, ``t_decay``, ``distill_activation``,
            ``legacy_double_softmax``, ``legacy_linear_teacher``.
        dataset: the general dataset with modalities and item labels.
    """

    def init_content_encoders(self, config, dataset: GeneralDataset) -> None:
        self.distiller = distiller_from_config(config, dataset, self.latent_dim, "SGFD-GRCN")

    def content_features(self) -> list[torch.Tensor]:
        return [F.leaky_relu(s) for s in self.distiller.student_features()]

    def calculate_loss(self, interaction) -> torch.Tensor:
        _, pos, neg = self.batch(interaction)
        return super().calculate_loss(interaction) + self.distiller.loss(torch.cat([pos, neg]))
