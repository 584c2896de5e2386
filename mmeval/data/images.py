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


#: PIL modes of one-channel images deeper than 8 bits (16-bit PNG and TIFF greyscale)
DEEP_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def _as_unit(im: Image.Image, path: Path) -> tuple[Image.Image, float]:
    """``im`` in a mode PIL resizes, with the value that maps to 1.0: 8-bit RGB (255), or a
    16-bit greyscale image by its real range (65535, as float), never saturated to white."""
    if im.mode in DEEP_MODES:
        arr = np.asarray(im, dtype=np.float64)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise DataError(f"cannot read image '{path}': {im.mode} values outside 0..65535 "
                            "have no known range; save it as 8- or 16-bit PNG")
        return Image.fromarray((arr / 65535).astype(np.float32), mode="F"), 1.0
    if im.mode == "F":
        raise DataError(f"cannot read image '{path}': floating-point pixels have no known range; "
                        "save it as 8- or 16-bit PNG")
    return im.convert("RGB"), 255.0


def load_image(path: Path, size: int) -> torch.Tensor:
    """``[3, size, size]`` in [0, 1]: shorter side resized to ``size`` (bicubic), centre-cropped —
    CLIP's ``Resize(n) -> CenterCrop(n)`` without normalization (the model normalizes). 16-bit
    greyscale images are read by their real range and repeated over three channels."""
    try:
        with Image.open(path) as im:
            im, full = _as_unit(im, path)
            w, h = im.size
            scale = size / min(w, h)
            im = im.resize((max(size, round(w * scale)), max(size, round(h * scale))),
                           Image.BICUBIC)
            w, h = im.size
            left, top = (w - size) // 2, (h - size) // 2
            im = im.crop((left, top, left + size, top + size))
            arr = np.clip(np.asarray(im, dtype=np.float32) / full, 0.0, 1.0)
            if arr.ndim == 2:
                arr = np.repeat(arr[..., None], 3, axis=2)
    except (OSError, UnidentifiedImageError) as exc:
        raise DataError(f"cannot read image '{path}': {exc}") from None
    import torch  # not at import: planning reads the dataset modules without torch

    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()
