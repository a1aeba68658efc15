"""CLIP text and image encoders (MISSRec's features: CLIP ViT-B/32, 512-d projected embeddings; spec missrec.md §4.1).

Weights are read from a local folder the user passes (a ``save_pretrained`` copy of ``openai/clip-vit-base-patch32``
with ``config.json``, the weights, the tokenizer files and ``preprocessor_config.json``); nothing is downloaded.
Features are ``get_text_features`` / ``get_image_features``: the projected embeddings (``projection_dim``, 512 for
ViT-B/32), the size MISSRec's ``img_size: 512`` expects. They are not L2-normalised unless ``normalize=True``:
whether the authors normalised is unknown. Texts longer than CLIP's 77 tokens are truncated.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from missrec.encoders.base import missing_extra
from missrec.encoders.images import encode_image_batches, torch_device

# OpenAI CLIP preprocessing, used when the folder has no preprocessor_config.json
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


# (folder, device) -> model: the text and the image encoder of one run share one copy of the weights
_LOADED: dict[tuple[str, str], Any] = {}


def load_clip(model_dir: str | Path | None, device: str | None = None) -> tuple[Any, str]:
    """Load ``CLIPModel`` from a local folder, in eval mode on ``device``. Returns (model, device)."""
    if model_dir is None or not (Path(model_dir) / "config.json").is_file():
        raise FileNotFoundError(
            f"CLIP folder {model_dir!r} has no config.json. CLIP weights are never downloaded by missrec: pass "
            "model_dir / --clip-dir, a local folder saved with CLIPModel.save_pretrained (e.g. a copy of "
            "openai/clip-vit-base-patch32 with its tokenizer and preprocessor_config.json)"
        )
    try:
        from transformers import CLIPModel
    except ImportError as e:
        raise missing_extra("transformers", "clip") from e
    device = torch_device(device)
    key = (str(Path(model_dir).resolve()), device)
    if key not in _LOADED:
        _LOADED[key] = CLIPModel.from_pretrained(key[0]).eval().to(device)
    return _LOADED[key], device


def _features(output: Any) -> Any:
    """``get_*_features`` returns a tensor (transformers 4) or an output whose pooler is the projection (5)."""
    return output if hasattr(output, "shape") else output.pooler_output


def _finish(features: Any, normalize: bool) -> np.ndarray:
    if normalize:
        features = features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return features.float().cpu().numpy()


class CLIPTextEncoder:
    """Text encoder: tokenise (truncate to the model's context), ``get_text_features`` -> ``[n, projection_dim]``."""

    name = "clip"

    def __init__(self, model_dir: str | Path | None = None, device: str | None = None, normalize: bool = False):
        self.model, self.device = load_clip(model_dir, device)
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.dim = int(self.model.config.projection_dim)
        self.max_length = min(self.tokenizer.model_max_length, self.model.config.text_config.max_position_embeddings)
        self.normalize = normalize

    def encode(self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = True) -> np.ndarray:
        """Encode ``texts`` -> float32 ``[n, projection_dim]``."""
        import torch
        from tqdm import tqdm

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in tqdm(range(0, len(texts), batch_size), desc="clip text", unit=" batch", disable=not show_progress):
            batch = self.tokenizer(
                list(texts[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.device)
            with torch.inference_mode():
                feats = _features(self.model.get_text_features(**batch))  # [B, projection_dim]
            out[start : start + len(feats)] = _finish(feats, self.normalize)
        return out


class CLIPImageEncoder:
    """Image encoder: CLIP preprocessing, ``get_image_features`` -> ``[n, projection_dim]``; None -> zero row."""

    name = "clip"

    def __init__(self, model_dir: str | Path | None = None, device: str | None = None, normalize: bool = False):
        self.model, self.device = load_clip(model_dir, device)
        image_size = int(self.model.config.vision_config.image_size)
        self.processor = _image_processor(Path(model_dir), image_size)  # type: ignore[arg-type]
        self.dim = int(self.model.config.projection_dim)
        self.normalize = normalize

    def preprocess(self, image: Any) -> np.ndarray:
        """RGB PIL image -> float32 ``[3, S, S]`` as the folder's CLIP image processor prepares it."""
        return np.asarray(self.processor(images=image, return_tensors="np")["pixel_values"][0], dtype=np.float32)

    def _embed(self, pixels: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(pixels).to(self.device)  # [B, 3, S, S]
            return _finish(_features(self.model.get_image_features(pixel_values=x)), self.normalize)

    def encode(self, images: Sequence[Any], batch_size: int = 64, show_progress: bool = True) -> np.ndarray:
        """Encode images (paths, bytes, PIL images or None) -> float32 ``[n, projection_dim]``."""
        return encode_image_batches(images, self.preprocess, self._embed, self.dim, batch_size, show_progress,
                                    desc="clip images")


def _image_processor(model_dir: Path, image_size: int) -> Any:
    """The folder's CLIP image processor (PIL backend: no torchvision), or OpenAI's defaults at ``image_size``."""
    try:  # transformers >= 5 names the PIL backend explicitly; in 4.x CLIPImageProcessor is the PIL one
        from transformers import CLIPImageProcessorPil as Processor
    except ImportError:
        from transformers import CLIPImageProcessor as Processor
    if (model_dir / "preprocessor_config.json").is_file():
        return Processor.from_pretrained(str(model_dir))
    return Processor(
        size={"shortest_edge": image_size},
        crop_size={"height": image_size, "width": image_size},
        image_mean=list(OPENAI_CLIP_MEAN),
        image_std=list(OPENAI_CLIP_STD),
    )
