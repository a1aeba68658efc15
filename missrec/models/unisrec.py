"""UniSRec (KDD'22): transferable sequence representations from item text, on RecBole's SASRec (spec missrec.md §8).

Read top to bottom, the forward pass is spec §8.1-§8.4 in order:

1. item representation ``v_i = MoE(x_i)``: ``n_exps`` parametric-whitening experts over the frozen text feature
   ``x_i``, mixed by a softmax gate that is noisy in training only (§8.1, :mod:`missrec.modules.adaptors`);
2. sequence input ``dropout(LN(v_{s_l} + P_l [+ E_{s_l}]))``, with the item-ID table E in transductive mode (§8.2);
3. RecBole's SASRec encoder under the causal (left-to-right) mask; ``s`` = its output at the last real item;
4. candidate ``c_j = MoE(x_j) [+ E_j]``: the ID embedding is added *before* normalisation (§8.4);
5. ``logits_j = cos(s, c_j) / tau`` and softmax cross-entropy over all items.

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
        # created after SASRec's init pass, as in the original: the adaptor keeps its own init (§8.1)
        self.moe_adaptor = MoEAdaptor(text.shape[1], self.hidden_size, config["n_exps"], config["adaptor_dropout_prob"])

    # ---- item side -------------------------------------------------------------------------------------------
    def item_representations(self) -> torch.Tensor:
        """Candidate embeddings of every item ``[n_items, D]`` (unnormalised): ``MoE(x) [+ E]``."""
        items = self.moe_adaptor(self.text_features)
        if self.item_embedding is not None:
            items = items + self.item_embedding.weight
        return items

    # ---- sequence side ---------------------------------------------------------------------------------------------
    def sequence_item_embeddings(self, item_seq: torch.Tensor) -> torch.Tensor:
        """``MoE(x)`` of every item of ``item_seq [B, L]`` -> ``[B, L, D]``.

        In training every real position draws its own adaptor dropout and gate noise, as in the original (it is not
        a row of the candidate table); padding positions are left at 0 rather than adapted, since under the causal,
        padding-masked encoder they never reach a real position. In eval the adaptor is deterministic, so the rows
        of the item table are the same numbers at a fraction of the cost.
        """
        if not self.training:
            return self.moe_adaptor(self.text_features)[item_seq]
        real = item_seq > 0
        adapted = self.moe_adaptor(self.text_features[item_seq[real]])  # [n_real, D]
        item_emb = adapted.new_zeros(*item_seq.shape, adapted.shape[-1])
        item_emb[real] = adapted
        return item_emb

    def forward(self, item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
        """Sequence representation ``s [B, D]`` (unnormalised) at the last real item.

        Args:
            item_seq: ``[B, L]`` item ids, oldest first, right-padded with 0.
            item_seq_len: ``[B]`` number of real items.
        """
        item_emb = self.sequence_item_embeddings(item_seq)  # [B, L, D]
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

    def pretrain_loss(self, interaction, gather_negatives: bool = True, mask_same_target: bool = True) -> dict:
        """L_SI + lambda * L_SS over in-batch negatives (spec §8.3): not part of this model yet."""
        raise NotImplementedError(
            "UniSRec's pre-training objective (spec missrec.md §8.3) is not implemented; fine-tune with "
            "train_stage transductive_ft or inductive_ft"
        )

    def full_sort_predict(self, interaction) -> torch.Tensor:
        seq = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        return self.score_items(seq, self.item_representations())

    def predict(self, interaction) -> torch.Tensor:
        scores = self.full_sort_predict(interaction)
        return scores.gather(1, interaction[self.ITEM_ID].unsqueeze(1)).squeeze(1)
