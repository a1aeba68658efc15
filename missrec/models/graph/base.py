"""The contract every general (graph) recommender follows, and what they share.

A model is built as ``Model(config, dataset)`` with a :class:`~missrec.data.general.GeneralDataset` and implements

* ``forward() -> (users [U, d'], items [I, d'])``: the final representations that are scored by inner product
  (``d'`` may differ from ``embedding_size``: VBPR 2d, SEA 128, GRCN 192);
* ``calculate_loss(interaction) -> loss`` (or a tuple of terms, summed by the trainer, which logs each epoch's
  mean of every term when the model names them in ``LOSS_TERMS``) for batches of
  ``interaction[USER_ID]``, ``interaction[ITEM_ID]`` (positive) and, when ``NEEDS_NEGATIVES``,
  ``interaction[NEG_ITEM_ID]``;
* optionally ``pre_epoch(trainer)`` (call ``super().pre_epoch(trainer)``: it applies ``learning_rate_scheduler``)
  and ``aux_step(interaction)`` (auxiliary optimisers, after the main optimiser step).

``full_sort_predict`` / ``predict`` score with :meth:`GraphRecommender.scoring_embeddings`: in eval mode the output
of ``forward()`` is computed once (without gradient) and cached until the mode changes, so an evaluation over many
user chunks propagates once; ``train()``/``eval()`` always invalidate it (and loading a checkpoint is followed by the
evaluator's ``eval()``). Models whose scoring differs from ``forward()`` (BM3's predictor) override
``scoring_embeddings``. Graph tensors are non-persistent buffers: rebuilt from the data, never checkpointed.
"""

from __future__ import annotations

import torch
from recbole.model.abstract_recommender import AbstractRecommender
from recbole.utils import InputType, ModelType

from missrec.data.general.dataset import GeneralDataset
from missrec.errors import ConfigError


class GraphRecommender(AbstractRecommender):
    """Base class: ids, sizes, the evaluation cache, the learning-rate schedule hook.

    Args:
        config: RecBole config (``USER_ID_FIELD``, ``ITEM_ID_FIELD``, ``NEG_PREFIX``, ``embedding_size``,
            ``device``, ``learning_rate``, ``learning_rate_scheduler`` ...).
        dataset: the general dataset.
    """

    type = ModelType.GENERAL
    input_type = InputType.PAIRWISE
    NEEDS_NEGATIVES = True  # the runner draws one negative per training row when True
    MULTIMODAL = False  # True: at least one modality feature table is required

    def __init__(self, config, dataset: GeneralDataset) -> None:
        super().__init__()
        self._scoring_cache: tuple[torch.Tensor, torch.Tensor] | None = None
        self.USER_ID = config["USER_ID_FIELD"]
        self.ITEM_ID = config["ITEM_ID_FIELD"]
        self.NEG_ITEM_ID = config["NEG_PREFIX"] + self.ITEM_ID
        self.n_users = dataset.n_users
        self.n_items = dataset.n_items
        self.embedding_size = int(config["embedding_size"])
        self.device = config["device"]
        self.lr_schedule = config["learning_rate_scheduler"]
        if self.MULTIMODAL and not dataset.features:
            raise ConfigError(
                f"{type(self).__name__} needs modality features but dataset '{dataset.name}' has none. "
                "Fix: set modality_files or add the feature files"
            )

    # ---- parameters most models share ---------------------------------------------------------------------------
    def init_id_embeddings(self, dim: int | None = None) -> None:
        """``user_embedding [U, d]`` and ``item_embedding [I, d]``, Xavier-uniform (``d`` = ``embedding_size``)."""
        dim = self.embedding_size if dim is None else dim
        self.user_embedding = torch.nn.Embedding(self.n_users, dim)
        self.item_embedding = torch.nn.Embedding(self.n_items, dim)
        torch.nn.init.xavier_uniform_(self.user_embedding.weight)
        torch.nn.init.xavier_uniform_(self.item_embedding.weight)

    def init_trainable_features(self, dataset: GeneralDataset) -> list[torch.Tensor]:
        """The raw modality tables as trainable parameters ``self.features`` (``X_m [I, d_m]``, float32 copies on
        the model's device); returns the tables themselves (for graph building)."""
        features = [f.float().to(self.device) for f in dataset.feature_list]
        self.features = torch.nn.ParameterList([torch.nn.Parameter(f.clone()) for f in features])
        return features

    # ---- training-side hooks -----------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> GraphRecommender:
        """Switch mode and drop cached representations (they belong to the other mode or to old weights)."""
        self._scoring_cache = None
        return super().train(mode)

    def pre_epoch(self, trainer) -> dict | None:
        """Apply ``learning_rate_scheduler: [a, b]`` as ``lr = lr0 * a ** (epoch / b)`` (MMRec's LambdaLR)."""
        if self.lr_schedule:
            if len(self.lr_schedule) != 2:
                raise ConfigError(f"learning_rate_scheduler must be [factor, every], found {self.lr_schedule}")
            factor, every = self.lr_schedule
            lr = trainer.learning_rate * factor ** (trainer.current_epoch / every)
            for group in trainer.optimizer.param_groups:
                group["lr"] = lr
            return {"lr": lr}
        return None

    def batch(self, interaction) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(users [B], positives [B], negatives [B] or None)`` of a training batch."""
        neg = interaction[self.NEG_ITEM_ID] if self.NEG_ITEM_ID in interaction.interaction else None
        return interaction[self.USER_ID], interaction[self.ITEM_ID], neg

    # ---- scoring ------------------------------------------------------------------------------------------------
    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def scoring_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(users [U, d'], items [I, d'])`` used for scoring; cached in eval mode."""
        if self.training:
            return self.forward()
        if self._scoring_cache is None:
            with torch.no_grad():
                users, items = self.forward()
            self._scoring_cache = (users.detach(), items.detach())
        return self._scoring_cache

    def full_sort_predict(self, interaction) -> torch.Tensor:
        """Scores ``[B, I]`` of every item for ``interaction[USER_ID]`` ``[B]``."""
        users, items = self.scoring_embeddings()
        return users[interaction[self.USER_ID]] @ items.T

    def predict(self, interaction) -> torch.Tensor:
        """Scores ``[B]`` of the pairs ``(interaction[USER_ID], interaction[ITEM_ID])``."""
        users, items = self.scoring_embeddings()
        return (users[interaction[self.USER_ID]] * items[interaction[self.ITEM_ID]]).sum(-1)
