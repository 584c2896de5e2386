"""Loading image files into [0, 1] tensors at a fixed resolution (PIL; no torchvision.io)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import DataError

if TYPE_CHECKING:
    import torch

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif")


def load_image(path: Path, size: int) -> torch.Tensor:
    """``[3, size, size]`` in [0, 1]: shorter side resized to ``size`` (bicubic), centre-cropped —
    CLIP's ``Resize(n) -> CenterCrop(n)`` without normalization (the model normalizes)."""
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            scale = size / min(w, h)
            im = im.resize((max(size, round(w * scale)), max(size, round(h * scale))),
                           Image.BICUBIC)
            w, h = im.size
            left, top = (w - size) // 2, (h - size) // 2
            im = im.crop((left, top, left + size, top + size))
            arr = np.asarray(im, dtype=np.float32) / 255.0
    except (OSError, UnidentifiedImageError) as exc:
        raise DataError(f"cannot read image '{path}': {exc}") from None
    import torch  # not at import: planning reads the dataset modules without torch

    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()
