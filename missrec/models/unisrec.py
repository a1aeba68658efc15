"""UniSRec (KDD'22): transferable sequence representations from item text, on RecBole's SASRec (spec missrec.md §8).

Read top to bottom, the forward pass is spec §8.1-§8.4 in order:

1. item representation ``v_i = MoE(x_i)``: ``n_exps`` parametric-whitening experts over the frozen text feature
   ``x_i``, mixed by a softmax gate that is noisy in training only (§8.1, :mod:`missrec.modules.adaptors`);
2. sequence input ``dropout(LN(v_{s_l} + P_l [+ E_{s_l}]))``, with the item-ID table E in transductive mode (§8.2);
3. RecBole's SASRec encoder under the causal (left-to-right) mask; ``s`` = its output at the last real item;
4. candidate ``c_j = MoE(x_j) [+ E_j]``: the ID embedding is added *before* normalisation (§8.4);
5. ``logits_j = cos(s, c_j) / tau`` and softmax cross-entropy over all items;
6. pre-training (§8.3): ``L_SI + lambda * L_SS`` over in-batch candidates, with the item-drop / word-drop views of
   :mod:`missrec.modules.augment` and same-target false negatives excluded (the original set their logit to 0, which
   still counts ``exp(0)`` per candidate in the denominator: ``legacy_same_target_zero_logit``).

Deliberate differences from the released code: the PAD column (item 0) is excluded from the training softmax, as
at evaluation and as our MISSRec does (the original kept PAD as a candidate, embedded as ``MoE(0)``); the text
features come from the modality named by ``text_modality`` and any other modality of the dataset is ignored.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from recbole.model.sequential_recommender import SASRec
from recbole.utils import InputType

from missrec.errors import ConfigError
from missrec.modules.adaptors import MoEAdaptor
from missrec.modules.augment import item_drop, word_drop_mask
from missrec.modules.fast_dropout import use_fast_dropout
from missrec.modules.inbatch import (
    gather_no_grad,
    gather_with_grad,
    in_batch_cross_entropy,
    local_offset,
    same_target_logit,
)
from missrec.registry import register_model

TRAIN_STAGES = ("transductive_ft", "inductive_ft", "pretrain")


@register_model("UniSRec", kind="sequential", modes=("transductive", "inductive"))
class UniSRec(SASRec):
    """UniSRec on RecBole's sequential contract (``calculate_loss``, ``predict``, ``full_sort_predict``).

    Subclasses RecBole's SASRec as the original does: ``position_embedding``, ``trm_encoder``, ``LayerNorm``,
    ``dropout`` and (transductive only) ``item_embedding`` are SASRec's, with SASRec's N(0, 0.02) init.

    Args:
        config: RecBole config (keys of ``props/UniSRec.yaml`` + ``props/finetune.yaml``).
        dataset: a dataset with ``modality_features`` (``{name: [n_items, d]}``) aligned to item ids.
    """

    input_type = InputType.POINTWISE
    # frozen by a transfer with fix_enc (spec §8.4); the MoE adaptor, input LayerNorm and E keep training
    transfer_frozen_prefixes = ("position_embedding.", "trm_encoder.")

    def __init__(self, config, dataset) -> None:
        super().__init__(config, dataset)
        self.train_stage = config["train_stage"]
        if self.train_stage not in TRAIN_STAGES:
            raise ValueError(f"train_stage '{self.train_stage}' is not one of {TRAIN_STAGES}")
        self.temperature = config["temperature"]
        self.text_modality = config["text_modality"]
        features = dataset.modality_features
        if self.text_modality not in features:
            raise ConfigError(
                f"UniSRec reads the text modality '{self.text_modality}' (key text_modality), but the dataset has "
                f"{sorted(features)}. Fix: set text_modality to one of them, or add it to the modalities key"
            )
        if self.train_stage != "transductive_ft":
            self.item_embedding = None  # no item IDs: the item side is text only
        text = features[self.text_modality].float()  # [n_items, d]
        # frozen and rebuilt from the dataset, so not part of the state dict
        self.register_buffer("text_features", text, persistent=False)
        text_aug = getattr(dataset, "text_aug_features", None) if self.text_modality == "text" else None
        self.register_buffer("text_aug_features", None if text_aug is None else text_aug.float(), persistent=False)
        self.lam = config["lambda"]
        self.same_target_logit = same_target_logit(config)
        self.item_drop_ratio = config["item_drop_ratio"]
        self.item_drop_coefficient = config["item_drop_coefficient"]
        # created after SASRec's init pass, as in the original: the adaptor keeps its own init (§8.1)
        self.moe_adaptor = MoEAdaptor(text.shape[1], self.hidden_size, config["n_exps"], config["adaptor_dropout_prob"])
        if config["fast_cpu_dropout"]:
            use_fast_dropout(self)  # CPU training only; same distribution, another random stream

    # ---- item side -------------------------------------------------------------------------------------------
    def item_representations(self) -> torch.Tensor:
        """Candidate embeddings of every item ``[n_items, D]`` (unnormalised): ``MoE(x) [+ E]``."""
        items = self.moe_adaptor(self.text_features)
        if self.item_embedding is not None:
            items = items + self.item_embedding.weight
        return items

    # ---- sequence side ---------------------------------------------------------------------------------------------
    def sequence_item_embeddings(self, item_seq: torch.Tensor, word_drop: torch.Tensor | None = None) -> torch.Tensor:
        """``MoE(x)`` of every item of ``item_seq [B, L]`` -> ``[B, L, D]``; positions where ``word_drop [B, L]`` is
        True read the word-dropped text instead (pre-training augmentation).

        In training every real position draws its own adaptor dropout and gate noise, as in the original (it is not
        a row of the candidate table); padding positions are left at 0 rather than adapted, since under the causal,
        padding-masked encoder they never reach a real position. In eval the adaptor is deterministic, so the rows
        of the item table are the same numbers at a fraction of the cost.
        """
        if not self.training and word_drop is None:
            return self.moe_adaptor(self.text_features)[item_seq]
        real = item_seq > 0
        features = self.text_features[item_seq]  # [B, L, d]
        if word_drop is not None:
            features = torch.where(word_drop.unsqueeze(-1), self.text_aug_features[item_seq], features)
        adapted = self.moe_adaptor(features[real])  # [n_real, D]
        item_emb = adapted.new_zeros(*item_seq.shape, adapted.shape[-1])
        item_emb[real] = adapted
        return item_emb

    def forward(
        self, item_seq: torch.Tensor, item_seq_len: torch.Tensor, word_drop: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Sequence representation ``s [B, D]`` (unnormalised) at the last real item.

        Args:
            item_seq: ``[B, L]`` item ids, oldest first, right-padded with 0.
            item_seq_len: ``[B]`` number of real items.
            word_drop: optional ``[B, L]`` positions reading the word-dropped text (pre-training).
        """
        item_emb = self.sequence_item_embeddings(item_seq, word_drop)  # [B, L, D]
        positions = torch.arange(item_seq.shape[1], device=item_seq.device)
        tokens = item_emb + self.position_embedding(positions)
        if self.item_embedding is not None:
            tokens = tokens + self.item_embedding(item_seq)
        tokens = self.dropout(self.LayerNorm(tokens))
        causal_mask = self.get_attention_mask(item_seq)  # [B, 1, L, L]: left-to-right, padding masked
        out = self.trm_encoder(tokens, causal_mask, output_all_encoded_layers=True)[-1]  # [B, L, D]
        return self.gather_indexes(out, item_seq_len - 1)

    # ---- scoring ---------------------------------------------------------------------------------------------------
    def score_items(self, seq: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, n_items]``: cosine of ``seq [B, D]`` and ``items [n_items, D]``, divided by tau."""
        return F.normalize(seq, dim=-1) @ F.normalize(items, dim=-1).T / self.temperature

    def calculate_loss(self, interaction) -> torch.Tensor:
        if self.train_stage == "pretrain":
            return self.pretrain_loss(interaction)["loss"]
        seq = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        logits = self.score_items(seq, self.item_representations())
        logits = logits.index_fill(1, logits.new_zeros(1, dtype=torch.long), float("-inf"))  # PAD is not an item
        return F.cross_entropy(logits, interaction[self.POS_ITEM_ID])

    def pretrain_loss(
        self, interaction, gather_negatives: bool = True, mask_same_target: bool = True
    ) -> dict[str, torch.Tensor]:
        """L = L_SI + lambda * L_SS over in-batch candidates (spec §8.3).

        L_SI scores each sequence against the MoE embeddings of every target item of the (gathered) batch; L_SS
        against every augmented sequence (item drop with probability ``item_drop_coefficient`` per batch, else
        word drop when word-dropped text exists). ``mask_same_target`` excludes candidates that share the anchor's
        target item (or gives them logit 0, UniSRec's released form, with ``legacy_same_target_zero_logit``).

        Returns:
            ``{"loss", "si", "ss", "reg"}`` (only ``loss`` carries gradients; UniSRec has no regulariser).
        """
        item_seq, lengths = interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN]
        target = interaction[self.POS_ITEM_ID]  # [B]
        seq = F.normalize(self.forward(item_seq, lengths), dim=-1)
        if self.text_aug_features is None or torch.rand(()).item() < self.item_drop_coefficient:
            aug_seq, aug_len = item_drop(item_seq, lengths, self.item_drop_ratio)
            seq_aug = self.forward(aug_seq, aug_len)
        else:
            seq_aug = self.forward(item_seq, lengths, word_drop_mask(lengths, item_seq.shape[1], self.item_drop_ratio))
        seq_aug = F.normalize(seq_aug, dim=-1)

        gather = gather_with_grad if gather_negatives else (lambda t: t)
        candidates = gather(F.normalize(self.moe_adaptor(self.text_features[target]), dim=-1))  # [N, D]
        all_targets = gather_no_grad(target) if gather_negatives else target  # [N]
        offset = local_offset(seq.shape[0], gather_negatives)
        same = target.unsqueeze(1) == all_targets.unsqueeze(0) if mask_same_target else None  # [B, N]
        si = in_batch_cross_entropy(seq @ candidates.T / self.temperature, offset, same, self.same_target_logit)
        ss = in_batch_cross_entropy(seq @ gather(seq_aug).T / self.temperature, offset, same, self.same_target_logit)
        loss = si + self.lam * ss
        return {"loss": loss, "si": si.detach(), "ss": ss.detach(), "reg": torch.zeros((), device=loss.device)}

    def full_sort_predict(self, interaction) -> torch.Tensor:
        seq = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        return self.score_items(seq, self.item_representations())

    def predict(self, interaction) -> torch.Tensor:
        scores = self.full_sort_predict(interaction)
        return scores.gather(1, interaction[self.ITEM_ID].unsqueeze(1)).squeeze(1)
