"""Why MISSRec recommends what it does: the history's interests, the fusion weights, per-modality evidence.

For one history (spec missrec.md §3.4-§3.6):

* **interests**: the history's interest tokens (its items' k-means clusters, over all modalities), each shown by
  the history items in it and by the cluster's most central members (closest adapted embeddings to the centroid),
  ordered by the decoder's cross-attention from the last history item to the token (mean over heads, last decoder
  layer): the interests the sequence representation read most;
* **fusion weights**: the user-adaptive modality weights ``softmax_m(w * cos_m)`` of the dynamic fusion, per
  recommended item and averaged over them (static fusion: 1/M each);
* **items**: for each recommended item its cosine to the user in every modality (and the ID cosine in transductive
  mode), with its fusion weights and final score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from missrec.modules.interests import interest_tokens
from missrec.recommend.catalogue import Catalogue
from missrec.recommend.heads import MISSRecHead, pad_histories


class CrossAttention:
    """Context manager recording the cross-attention weights ``[B, L, Q]`` of a MISSRec's last decoder layer."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.attention = model.trm_model.decoder.layers[-1].multihead_attn
        self.weights: torch.Tensor | None = None
        self._busy = False

    def _hook(self, module, args, kwargs, output):
        if self._busy:
            return None
        self._busy = True
        try:  # the layer asks for no weights; ask again for them, averaged over heads
            _, self.weights = module(*args, **{**kwargs, "need_weights": True, "average_attn_weights": True})
        finally:
            self._busy = False
        return None

    def __enter__(self) -> CrossAttention:
        self._handle = self.attention.register_forward_hook(self._hook, with_kwargs=True)
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()


def _item(catalogue: Catalogue, item: int) -> dict[str, Any]:
    return {"item_id": catalogue.raw_ids[item], "text": catalogue.texts[item]}


@torch.no_grad()
def central_members(head: MISSRecHead, cluster: int, n: int) -> tuple[list[tuple[int, str]], int]:
    """The ``n`` distinct items whose adapted embedding (any modality) is closest to centroid ``cluster``, with their
    modality, and the cluster size (points over all modalities)."""
    lookup = head.model.interest_lookup  # [M, N]
    modality_idx, items = torch.nonzero(lookup == cluster, as_tuple=True)
    if items.numel() == 0:
        return [], 0
    centroid = head.model.interest_embeddings[cluster]
    distances = (head.modal[modality_idx, items] - centroid).norm(dim=-1)
    chosen: list[tuple[int, str]] = []
    for position in distances.argsort().tolist():
        item = int(items[position])
        if item not in [c[0] for c in chosen]:
            chosen.append((item, head.modalities[int(modality_idx[position])]))
        if len(chosen) == n:
            break
    return chosen, int(items.numel())


@torch.no_grad()
def explain_history(
    head: MISSRecHead,
    catalogue: Catalogue,
    history: Sequence[int],
    items: Sequence[int],
    scores: Sequence[float],
    max_len: int,
    members: int = 3,
) -> dict[str, Any]:
    """The explanation of ``items`` (internal ids, with their ``scores``) recommended for ``history`` (internal ids).

    Returns:
        ``{"interests": [...], "fusion": {...}, "items": [...]}``, JSON-serialisable (see the module doc).
    """
    model = head.model
    item_seq, lengths = pad_histories([history], max_len, head.modal.device)  # [1, L], [1]
    with CrossAttention(model) as recorder:
        query = head.encode(item_seq, lengths)  # [1, D]
    ids, n_valid = interest_tokens(item_seq, model.interest_lookup)  # [1, Q]
    attention = recorder.weights[0, int(lengths[0]) - 1] if recorder.weights is not None else torch.zeros(ids.shape[1])
    history_labels = model.interest_lookup[:, item_seq[0, : int(lengths[0])]]  # [M, L]

    interests = []
    for position in range(ids.shape[1]):
        cluster = int(ids[0, position])
        if cluster == 0:
            continue
        central, size = central_members(head, cluster, members)
        modality_idx, positions = torch.nonzero(history_labels == cluster, as_tuple=True)
        in_history = []
        for m, p in zip(modality_idx.tolist(), positions.tolist(), strict=True):
            entry = {**_item(catalogue, int(item_seq[0, p])), "modality": head.modalities[m]}
            if entry not in in_history:
                in_history.append(entry)
        interests.append({
            "interest": cluster,
            "attention": float(attention[position]),
            "size": size,
            "history_items": in_history,
            "central_members": [{**_item(catalogue, i), "modality": m} for i, m in central],
        })
    interests.sort(key=lambda x: -x["attention"])

    candidates = torch.as_tensor(list(items), dtype=torch.long, device=query.device).unsqueeze(0)  # [1, k]
    cosines = head.modality_cosines(query, candidates)[:, 0]  # [M, k]
    weights = head.fusion_weights(cosines.unsqueeze(1), candidates).squeeze(1)  # [M, k]
    id_cos = (head.id_normed[candidates[0]] @ query[0]) if head.id_normed is not None else None  # [k]
    explained = []
    for j, item in enumerate(items):
        entry = {
            **_item(catalogue, item),
            "score": float(scores[j]),
            "cosine": {m: float(cosines[i, j]) for i, m in enumerate(head.modalities)},
            "fusion_weight": {m: float(weights[i, j]) for i, m in enumerate(head.modalities)},
            "new": item >= catalogue.n_trained,
        }
        if id_cos is not None:
            entry["id_cosine"] = float(id_cos[j])
        explained.append(entry)
    fusion = model.fusion
    factor = fusion.fusion_factor.mean().item() if fusion.mode != "static" else 0.0
    user_weights = weights.mean(1) if len(items) else torch.full((len(head.modalities),), 1 / len(head.modalities))
    return {
        "interests": interests,
        "interest_tokens": int(n_valid[0]),
        "fusion": {
            "mode": fusion.mode,
            "factor": factor,
            "user_weights": {m: float(user_weights[i]) for i, m in enumerate(head.modalities)},
        },
        "items": explained,
    }


def format_explanation(explanation: dict[str, Any], width: int = 60) -> str:
    """The explanation as terminal text."""

    def title(entry: dict[str, Any]) -> str:
        text = entry["text"] or "(no text)"
        return f"{entry['item_id']} {text[:width]}"

    lines = [f"Interests of the history ({explanation['interest_tokens']} interest tokens, by decoder attention):"]
    for interest in explanation["interests"]:
        lines.append(f"  interest {interest['interest']:>5}  attention {interest['attention']:.3f}  size {interest['size']}")
        for entry in interest["history_items"]:
            lines.append(f"      from history [{entry['modality']}]  {title(entry)}")
        for entry in interest["central_members"]:
            lines.append(f"      central      [{entry['modality']}]  {title(entry)}")
    fusion = explanation["fusion"]
    weights = ", ".join(f"{m} {w:.3f}" for m, w in fusion["user_weights"].items())
    lines.append(f"Modality fusion ({fusion['mode']}, factor {fusion['factor']:.3f}); user weights over the list: {weights}")
    lines.append("Per recommended item, cosine to the user (fusion weight):")
    for rank, item in enumerate(explanation["items"], 1):
        parts = [f"{m} {c:+.3f} ({item['fusion_weight'][m]:.2f})" for m, c in item["cosine"].items()]
        if "id_cosine" in item:
            parts.append(f"id {item['id_cosine']:+.3f}")
        new = " [new]" if item["new"] else ""
        lines.append(f"  {rank:>3}. {title(item)}{new}\n        " + "  ".join(parts))
    return "\n".join(lines)
