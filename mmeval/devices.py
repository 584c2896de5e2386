"""Device and precision helpers shared by the runner and the training engine."""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from .errors import SpecError

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str, field: str = "run.device") -> torch.device:
    """The torch device ``name`` names (``auto``: CUDA when available); ``field`` is the spec
    path a CUDA-less machine's error points at."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SpecError("CUDA is not available on this machine; use --device cpu", field)
    return device


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    """Autocast to ``precision`` (bf16 / fp16) on ``device``; nothing for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])
