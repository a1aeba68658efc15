"""SGFD's semantic-guided feature distiller (ACM MM'23), graph_models.md §4.11: the part shared by every host.

For each modality m with fixed raw features ``X_m [I, d_m]`` and item category labels ``y [I]`` (C classes):

* teacher ``t = norm(T_m(X_m))``: a pyramid of Linear layers ``d_m -> d_m/4 -> d_m/16 -> ... -> d`` (widths divided
  by 4 while they stay above d, then one layer to d; 4096 -> 1024 -> 256 -> 128 for d = 128), LeakyReLU between
  the layers;
* student ``s = norm(S_m(X_m))`` with ``S_m: Linear(d_m -> d)``: it replaces the host's modality encoder and is the
  only part used at prediction;
* classifier ``C_m: Linear(d -> C)``, shared by the teacher and the student of that modality;
* fusion classifier ``C_f(LeakyReLU(W_f [t_1; ...; t_M]))`` with ``W_f: Linear(M d -> d)``, ``C_f: Linear(d -> C)``.

With ``activation`` (the released ``is_pruning``), teacher and student outputs go through LeakyReLU before the
L2 normalisation. On the items of a batch:

    L_SGFD = ce_weight (mean_m CE(C_m t_m, y) + CE(C_f[...], y))
           + kd_weight (mean_m L1(softmax(C_m t_m / T), softmax(C_m s_m / T)) + mean_m MSE(s_m, t_m))

with ``T = t_decay``; neither KD term detaches the teacher (as released: teacher and student learn jointly).

The released code departs from the paper in two ways that the SGFD table (§6.4) was produced with, so each has a
named switch, off by default (§4.11, §8.2):

* ``legacy_double_softmax``: ``F.cross_entropy`` is given softmax probabilities, i.e. a second softmax inside the
  per-modality CE; the default applies log-softmax to the logits once;
* ``legacy_linear_teacher``: no non-linearity between the teacher's layers (a factorised linear map, no more
  expressive than the one-layer student); the default puts LeakyReLU between them.

The released constructor's ``int(dim/4)*4`` width bug (shape mismatch for widths not divisible down the chain) is
not reproduced: each layer takes the previous layer's actual width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from missrec.data.general.dataset import GeneralDataset
from missrec.errors import ConfigError
from missrec.modules.losses import kd_feature, kd_response, semantic_ce


def teacher_widths(in_dim: int, out_dim: int) -> list[int]:
    """Layer widths of the teacher pyramid, input first: ``in_dim``, then ``// 4`` while above ``out_dim``, then it."""
    widths = [in_dim]
    while widths[-1] // 4 > out_dim:
        widths.append(widths[-1] // 4)
    return [*widths, out_dim]


def teacher_pyramid(in_dim: int, out_dim: int, linear_only: bool = False) -> nn.Sequential:
    """The teacher ``T_m`` (before the optional output activation and the normalisation).

    Args:
        in_dim: d_m.
        out_dim: d.
        linear_only: the released teacher (no LeakyReLU between the layers).
    """
    widths = teacher_widths(in_dim, out_dim)
    layers: list[nn.Module] = []
    for k, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        if k > 0 and not linear_only:
            layers.append(nn.LeakyReLU())
        layers.append(nn.Linear(a, b))
    return nn.Sequential(*layers)


class SemanticDistiller(nn.Module):
    """Teachers, students and classifiers of every modality, and the SGFD loss.

    Args:
        features: fixed raw features ``X_m [I, d_m]``, one per modality.
        labels: ``[I]`` int64 category labels.
        dim: d, the host's modality feature size.
        ce_weight, kd_weight: loss weights (module doc).
        temperature: T of the response KD (``t_decay``).
        activation: LeakyReLU on teacher/student outputs (the released ``is_pruning``).
        legacy_double_softmax, legacy_linear_teacher: see the module doc.
    """

    def __init__(
        self,
        features: list[torch.Tensor],
        labels: torch.Tensor,
        dim: int,
        ce_weight: float,
        kd_weight: float,
        temperature: float,
        activation: bool = False,
        legacy_double_softmax: bool = False,
        legacy_linear_teacher: bool = False,
    ) -> None:
        super().__init__()
        self.n_modalities = len(features)
        self.n_classes = int(labels.max()) + 1
        self.ce_weight, self.kd_weight, self.temperature = ce_weight, kd_weight, temperature
        self.activation = activation
        self.legacy_double_softmax = legacy_double_softmax
        for m, f in enumerate(features):
            self.register_buffer(f"raw_feature_{m}", f.float(), persistent=False)  # X_m [I, d_m]
        self.register_buffer("labels", labels.long(), persistent=False)  # [I]
        self.teachers = nn.ModuleList([teacher_pyramid(f.shape[1], dim, legacy_linear_teacher) for f in features])
        self.students = nn.ModuleList([nn.Linear(f.shape[1], dim) for f in features])
        self.classifiers = nn.ModuleList([nn.Linear(dim, self.n_classes) for _ in features])
        self.fusion = nn.Linear(self.n_modalities * dim, dim)
        self.fusion_classifier = nn.Linear(dim, self.n_classes)

    def raw(self, m: int, items: torch.Tensor | None = None) -> torch.Tensor:
        x = getattr(self, f"raw_feature_{m}")
        return x if items is None else x[items]

    def _output(self, h: torch.Tensor) -> torch.Tensor:
        return F.normalize(F.leaky_relu(h) if self.activation else h, dim=1)

    def student_features(self, items: torch.Tensor | None = None) -> list[torch.Tensor]:
        """``s_m`` ``[I or B, d]`` per modality, of all items or of ``items [B]``."""
        return [self._output(student(self.raw(m, items))) for m, student in enumerate(self.students)]

    def teacher_features(self, items: torch.Tensor | None = None) -> list[torch.Tensor]:
        """``t_m`` ``[I or B, d]`` per modality (training only)."""
        return [self._output(teacher(self.raw(m, items))) for m, teacher in enumerate(self.teachers)]

    def loss_terms(self, items: torch.Tensor) -> dict[str, torch.Tensor]:
        """Unweighted ``ce`` (mean over modalities), ``fuse``, ``kd_response``, ``kd_feature`` on ``items [B]``."""
        y = self.labels[items]
        teachers, students = self.teacher_features(items), self.student_features(items)
        ce, response, feature = [], [], []
        for classifier, t, s in zip(self.classifiers, teachers, students, strict=True):
            t_logits, s_logits = classifier(t), classifier(s)  # [B, C]
            ce.append(semantic_ce(t_logits, y, double_softmax=self.legacy_double_softmax))
            response.append(kd_response(t_logits, s_logits, self.temperature, "l1"))
            feature.append(kd_feature(s, t))
        fused = self.fusion_classifier(F.leaky_relu(self.fusion(torch.cat(teachers, 1))))
        return {
            "ce": torch.stack(ce).mean(),
            "fuse": F.cross_entropy(fused, y),
            "kd_response": torch.stack(response).mean(),
            "kd_feature": torch.stack(feature).mean(),
        }

    def loss(self, items: torch.Tensor) -> torch.Tensor:
        """``L_SGFD`` on ``items [B]``."""
        t = self.loss_terms(items)
        return self.ce_weight * (t["ce"] + t["fuse"]) + self.kd_weight * (t["kd_response"] + t["kd_feature"])


def distiller_from_config(config, dataset: GeneralDataset, dim: int, model: str) -> SemanticDistiller:
    """The distiller of a host model from ``ce_weight``, ``kd_weight``, ``t_decay``, ``distill_activation``,
    ``legacy_double_softmax``, ``legacy_linear_teacher``; the dataset must carry item category labels."""
    if dataset.item_labels is None:
        raise ConfigError(
            f"{model} needs item category labels, but dataset '{dataset.name}' ({dataset.source}) has none. "
            "Fix: use a dataset with labels (SGFD format with MetaData_normal.npy, or ML100K_general's genres)"
        )
    return SemanticDistiller(
        [f.float() for f in dataset.feature_list],
        dataset.item_labels,
        dim,
        ce_weight=float(config["ce_weight"]),
        kd_weight=float(config["kd_weight"]),
        temperature=float(int(config["t_decay"])),
        activation=bool(config["distill_activation"]),
        legacy_double_softmax=bool(config["legacy_double_softmax"]),
        legacy_linear_teacher=bool(config["legacy_linear_teacher"]),
    )
