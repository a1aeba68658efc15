"""MISSRec (ACM MM'23): multimodal interest-aware sequential recommendation, for any number of modalities.

Read top to bottom, the forward pass is spec missrec.md §3 in order:

1. per-modality adaptors ``e^m_i = W_m x^m_i + b_m`` (plain Linear, torch's default init, §3.1);
2. decoder input ``h0_l = dropout(LN(sum_m e^m_{s_l} + P_l [+ E_{s_l}]))`` (§3.2);
3. interest tokens: the user's deduplicated k-means cluster ids, embedded by the (constant) centroids (§3.3-§3.4);
4. ``memory = Encoder(interests)``, ``out = Decoder(h0, memory)``, both bidirectional, post-LN (§3.5);
5. ``s = normalize(out[last real item])``;
6. candidate score: dynamic fusion of the per-modality cosines, plus the ID cosine in transductive mode:
   ``(cos(s, E_j) + M * fused_j) / (M + 1)`` (the original's ``(id + 2 mm) / 3`` for M = 2), divided by tau (§3.6);
7. loss: CE over all items + gamma * R (§3.7); pre-training: in-batch L_SI on fused scores + lambda * L_SS between
   a sequence and its augmented view + gamma * (R + R') (§3.7), see :meth:`MISSRec.pretrain_loss`.

Deliberate differences from the released code: proper k-means (see :mod:`missrec.modules.kmeans`); the PAD
column is excluded from the training softmax as it is at evaluation; any number of modalities.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from recbole.model.abstract_recommender import SequentialRecommender
from recbole.utils import InputType
from torch import nn

from missrec.modules.augment import item_drop, word_drop_mask
from missrec.modules.fast_dropout import use_fast_dropout
from missrec.modules.fusion import ModalityFusion
from missrec.modules.inbatch import (
    gather_no_grad,
    gather_with_grad,
    global_max,
    in_batch_cross_entropy,
    local_offset,
    same_target_logit,
    world_size,
)
from missrec.modules.interests import Interests, discover_interests, interest_regulariser, interest_tokens
from missrec.modules.kmeans import interest_count
from missrec.registry import register_model

TRAIN_STAGES = ("transductive_ft", "inductive_ft", "pretrain")


class FeatureTable(nn.Module):
    """A frozen modality feature table ``[n_items, d]`` (a non-persistent buffer: rebuilt from the dataset)."""

    def __init__(self, features: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("weight", features.float(), persistent=False)


@register_model("MISSRec", kind="sequential", modes=("transductive", "inductive"))
class MISSRec(SequentialRecommender):
    """MISSRec on RecBole's sequential contract (``calculate_loss``, ``predict``, ``full_sort_predict``).

    Args:
        config: RecBole config (keys of ``props/MISSRec.yaml`` + ``props/finetune.yaml``).
        dataset: a dataset with ``modality_features`` (``{name: [n_items, d]}``) aligned to item ids.
    """

    input_type = InputType.POINTWISE
    # frozen by a transfer with fix_enc (spec §2.2): adaptors, input LayerNorm, fusion and the ID table keep training
    transfer_frozen_prefixes = ("position_embedding.", "trm_model.")
    # fine-tuning loss terms, logged per epoch by the trainer (``train_ce``, ``train_interest_reg`` in the history)
    LOSS_TERMS = ("ce", "interest_reg")

    def __init__(self, config, dataset) -> None:
        super().__init__(config, dataset)
        self.train_stage = config["train_stage"]
        if self.train_stage not in TRAIN_STAGES:
            raise ValueError(f"train_stage '{self.train_stage}' is not one of {TRAIN_STAGES}")
        if config["n_layers"] % 2:
            raise ValueError(f"n_layers={config['n_layers']} must be even: n_layers/2 encoder + n_layers/2 decoder")
        features = dataset.modality_features
        if not features:
            raise ValueError("MISSRec needs at least one modality; set the 'modalities' key of the dataset")
        self.modalities = list(features)
        hidden = config["hidden_size"]
        self.hidden_size = hidden
        self.temperature = config["temperature"]
        self.gamma = config["gamma"]
        self.initializer_range = config["initializer_range"]
        self.interest_ratio = config["interest_ratio"]
        self.kmeans_iters = config["kmeans_iters"]
        self.kmeans_backend = config["kmeans_backend"]
        self.kmeans_restarts = config["kmeans_restarts"]
        self.kmeans_init = config["kmeans_init"]
        self.seed = config["seed"]
        self.lam = config["lambda"]
        self.same_target_logit = same_target_logit(config)
        self.item_drop_ratio = config["item_drop_ratio"]
        self.item_drop_coefficient = config["item_drop_coefficient"]
        self.use_id = self.train_stage == "transductive_ft" and config["id_type"] != "none"

        self.position_embedding = nn.Embedding(self.max_seq_length, hidden)
        self.item_embedding = nn.Embedding(self.n_items, hidden, padding_idx=0) if self.use_id else None
        self.LayerNorm = nn.LayerNorm(hidden, eps=config["layer_norm_eps"])
        self.dropout = nn.Dropout(config["hidden_dropout_prob"])
        self.trm_model = nn.Transformer(
            d_model=hidden,
            nhead=config["n_heads"],
            num_encoder_layers=config["n_layers"] // 2,
            num_decoder_layers=config["n_layers"] // 2,
            dim_feedforward=config["inner_size"],
            dropout=config["hidden_dropout_prob"],
            activation=config["hidden_act"],
            layer_norm_eps=config["layer_norm_eps"],
            batch_first=True,
            norm_first=False,
        )
        # the nested-tensor fast path (eval mode) is a prototype API that warns on every call; results are identical
        self.trm_model.encoder.enable_nested_tensor = False
        self.trm_model.encoder.use_nested_tensor = False
        self.apply(self._init_weights)
        # created after the init pass, as in the original: adaptors keep torch's default Linear init, fusion w = 0
        self.feature_tables = nn.ModuleDict({m: FeatureTable(f) for m, f in features.items()})
        self.adaptors = nn.ModuleDict({m: nn.Linear(f.shape[1], hidden) for m, f in features.items()})
        # word-dropped text (.feat2CLS) for the pre-training augmentation, when the corpus has it
        text_aug = getattr(dataset, "text_aug_features", None)
        self.text_aug = FeatureTable(text_aug) if text_aug is not None and "text" in features else None
        self.fusion = ModalityFusion(config["item_mm_fusion"], self.n_items)
        self.register_buffer("interest_lookup", torch.zeros(len(features), self.n_items, dtype=torch.long))
        self.register_buffer("interest_embeddings", torch.zeros(1, hidden))
        if config["fast_cpu_dropout"]:
            use_fast_dropout(self)  # CPU training only; same distribution, another random stream

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(0.0, self.initializer_range)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(0.0, self.initializer_range)
            if module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.weight.data.fill_(1.0)
            module.bias.data.zero_()

    # ---- item side -------------------------------------------------------------------------------------------
    def modal_item_embeddings(self) -> torch.Tensor:
        """Adapted embeddings of every item in every modality ``[M, n_items, D]``."""
        return torch.stack([self.adaptors[m](self.feature_tables[m].weight) for m in self.modalities])

    # ---- interests ---------------------------------------------------------------------------------------------
    @property
    def interests_ready(self) -> bool:
        return self.interest_embeddings.shape[0] > 1

    def allocate_interests(self) -> None:
        """Zero interest buffers of their final shape (K follows from the item count), so that every process holds
        buffers of the same shape before the main process's discovery is broadcast."""
        k = interest_count(len(self.modalities) * (self.n_items - 1), self.interest_ratio)
        device = self.interest_embeddings.device
        self.interest_lookup = torch.zeros(len(self.modalities), self.n_items, dtype=torch.long, device=device)
        self.interest_embeddings = torch.zeros(k + 1, self.hidden_size, device=device)

    @torch.no_grad()
    def discover_interests(self, epoch: int = 0) -> Interests:
        """Re-cluster all items' current adapted embeddings and store the result in the interest buffers
        (in place when the shapes match, so references held elsewhere, e.g. by DDP, stay valid)."""
        interests = discover_interests(
            self.modal_item_embeddings(),
            self.interest_ratio,
            n_iter=self.kmeans_iters,
            seed=self.seed + epoch * self.kmeans_restarts,
            backend=self.kmeans_backend,
            restarts=self.kmeans_restarts,
            init=self.kmeans_init,
        )
        for name, value in (("interest_lookup", interests.lookup), ("interest_embeddings", interests.embeddings)):
            buffer = getattr(self, name)
            if buffer.shape == value.shape:
                buffer.copy_(value)
            else:
                setattr(self, name, value)
        return interests

    def pre_epoch(self, trainer) -> dict[str, float]:
        """Trainer hook, before every training epoch: interest discovery (spec §2.4 step 1)."""
        interests = self.discover_interests(epoch=trainer.current_epoch)
        return {"interest_clusters": interests.num_clusters, "interest_clusters_used": interests.clusters_used(),
                "interest_inertia": interests.inertia}

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # interest buffers change size with K: adopt the checkpoint's shape before the copy
        for name in ("interest_lookup", "interest_embeddings"):
            saved = state_dict.get(prefix + name)
            if saved is not None and saved.shape != getattr(self, name).shape:
                setattr(self, name, torch.zeros_like(saved, device=getattr(self, name).device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ---- sequence side ---------------------------------------------------------------------------------------------
    def forward(
        self,
        item_seq: torch.Tensor,
        item_seq_len: torch.Tensor,
        modal_emb: torch.Tensor,
        token_delta: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sequence representation.

        Args:
            item_seq: ``[B, L]`` item ids, oldest first, right-padded with 0.
            item_seq_len: ``[B]`` number of real items.
            modal_emb: ``[M, n_items, D]`` from :meth:`modal_item_embeddings`.
            token_delta: optional ``[B, L, D]`` added to the item tokens (word-drop augmentation).

        Returns:
            ``s [B, D]`` (L2-normalised) and the interest regulariser R (scalar).
        """
        if not self.interests_ready:
            self.discover_interests()
        positions = torch.arange(item_seq.shape[1], device=item_seq.device)
        tokens = modal_emb[:, item_seq].sum(0) + self.position_embedding(positions)  # [B, L, D]
        if self.use_id:
            tokens = tokens + self.item_embedding(item_seq)
        if token_delta is not None:
            tokens = tokens + token_delta
        tokens = self.dropout(self.LayerNorm(tokens))

        # pre-training under data parallelism: pad to the widest batch of all processes, so Q (which R depends on)
        # is the global batch's whatever the number of processes
        width_of = (lambda q: global_max(q, item_seq.device)) if self.train_stage == "pretrain" else None
        interest_ids, n_valid = interest_tokens(item_seq, self.interest_lookup, width_of)  # [B, Q], [B]
        interest_pad = interest_ids == 0
        memory = self.trm_model.encoder(self.interest_embeddings[interest_ids], src_key_padding_mask=interest_pad)
        out = self.trm_model.decoder(
            tokens, memory, tgt_key_padding_mask=item_seq == 0, memory_key_padding_mask=interest_pad
        )  # [B, L, D]
        seq = F.normalize(self.gather_indexes(out, item_seq_len - 1), dim=-1)
        return seq, interest_regulariser(memory, n_valid)

    # ---- scoring ---------------------------------------------------------------------------------------------------
    def score_items(self, seq: torch.Tensor, modal_emb: torch.Tensor) -> torch.Tensor:
        """Logits of every item ``[B, n_items]`` for normalised sequence embeddings ``seq [B, D]``."""
        cosines = seq @ F.normalize(modal_emb, dim=-1).transpose(1, 2)  # [M, B, n_items]
        score = self.fusion(cosines)
        if self.use_id:
            id_cos = seq @ F.normalize(self.item_embedding.weight, dim=-1).T  # [B, n_items]; PAD row -> 0
            m = len(self.modalities)
            score = (id_cos + m * score) / (m + 1)
        return score / self.temperature

    def calculate_loss(self, interaction) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Pre-training: the scalar loss of :meth:`pretrain_loss`. Fine-tuning: ``(CE over all items, gamma * R)``
        (:attr:`LOSS_TERMS`), which the trainer sums."""
        if self.train_stage == "pretrain":
            return self.pretrain_loss(interaction)["loss"]
        modal_emb = self.modal_item_embeddings()
        seq, reg = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN], modal_emb)
        logits = self.score_items(seq, modal_emb)
        logits = logits.index_fill(1, logits.new_zeros(1, dtype=torch.long), float("-inf"))  # PAD is not an item
        return F.cross_entropy(logits, interaction[self.POS_ITEM_ID]), self.gamma * reg  # LOSS_TERMS, summed

    # ---- pre-training -------------------------------------------------------------------------------------------
    def augment(
        self, item_seq: torch.Tensor, lengths: torch.Tensor, modal_emb: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The augmented view: item drop with probability ``item_drop_coefficient`` per batch, else word drop
        (only when word-dropped text features exist). Returns ``(ids, lengths, token_delta or None)``."""
        if self.text_aug is None or torch.rand(()).item() < self.item_drop_coefficient:
            aug_seq, aug_len = item_drop(item_seq, lengths, self.item_drop_ratio)
            return aug_seq, aug_len, None
        mask = word_drop_mask(lengths, item_seq.shape[1], self.item_drop_ratio)  # [B, L]
        text = self.modalities.index("text")
        dropped = self.adaptors["text"](self.text_aug.weight[item_seq])  # [B, L, D]
        delta = mask.unsqueeze(-1) * (dropped - modal_emb[text, item_seq])
        return item_seq, lengths, delta

    def pretrain_loss(
        self, interaction, gather_negatives: bool = True, mask_same_target: bool = False
    ) -> dict[str, torch.Tensor]:
        """L = L_SI + lambda * L_SS + gamma * (R + R') over in-batch candidates (spec §3.7).

        L_SI scores each sequence against every target item of the (gathered) batch with the dynamic fusion of the
        per-modality cosines; L_SS scores it against every augmented sequence. ``mask_same_target`` excludes
        candidates that share the anchor's target item (UniSRec does, the original MISSRec does not).

        The objective does not depend on the number of processes W: L_SI and L_SS are means over rows, which DDP's
        gradient average over W processes keeps; R is a SUM over the rows of the global batch, so each process
        contributes W times its local sum (DDP divides by W), and the interest-token width Q is the global one.

        Returns:
            ``{"loss", "si", "ss", "reg"}`` (only ``loss`` carries gradients).
        """
        modal_emb = self.modal_item_embeddings()  # [M, n_items, D]
        item_seq, lengths = interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN]
        target = interaction[self.POS_ITEM_ID]  # [B]
        seq, reg = self.forward(item_seq, lengths, modal_emb)
        aug_seq, aug_len, delta = self.augment(item_seq, lengths, modal_emb)
        seq_aug, reg_aug = self.forward(aug_seq, aug_len, modal_emb, token_delta=delta)

        gather = gather_with_grad if gather_negatives else (lambda t: t)
        candidates = F.normalize(modal_emb[:, target], dim=-1).transpose(0, 1)  # [B, M, D]
        all_candidates = gather(candidates).transpose(0, 1)  # [M, N, D]
        all_targets = gather_no_grad(target) if gather_negatives else target  # [N]
        offset = local_offset(seq.shape[0], gather_negatives)
        same = target.unsqueeze(1) == all_targets.unsqueeze(0) if mask_same_target else None  # [B, N]

        cosines = torch.einsum("bd,mnd->mbn", seq, all_candidates)  # [M, B, N]
        si = in_batch_cross_entropy(self.fusion(cosines, item_index=all_targets) / self.temperature, offset, same,
                                    self.same_target_logit)
        ss = in_batch_cross_entropy(seq @ gather(seq_aug).T / self.temperature, offset, same, self.same_target_logit)
        regulariser = (reg + reg_aug) * world_size()  # sum over the global batch (see the docstring)
        loss = si + self.lam * ss + self.gamma * regulariser
        return {"loss": loss, "si": si.detach(), "ss": ss.detach(), "reg": regulariser.detach()}

    def full_sort_predict(self, interaction) -> torch.Tensor:
        modal_emb = self.modal_item_embeddings()
        seq, _ = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN], modal_emb)
        return self.score_items(seq, modal_emb)

    def predict(self, interaction) -> torch.Tensor:
        scores = self.full_sort_predict(interaction)
        return scores.gather(1, interaction[self.ITEM_ID].unsqueeze(1)).squeeze(1)
