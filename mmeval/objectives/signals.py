"""Signal embeddings: the tower that encodes a batch's images or audio."""

from __future__ import annotations

import torch

from ..errors import IncompatibleComponentsError
from ..protocols import VLModel

#: the encoder method of each signal modality
ENCODERS = {"image": "encode_image", "audio": "encode_audio"}


def encode_signal(model: VLModel, modality: str, signal: torch.Tensor) -> torch.Tensor:
    """``[B, D]`` L2-normalized embeddings of ``signal`` (images or audio, per ``modality``) by the
    model's tower for that modality."""
    encode = getattr(model, ENCODERS[modality], None)
    if encode is None or modality not in model.capabilities:
        raise IncompatibleComponentsError(
            f"the model encodes {sorted(model.capabilities)}, not {modality}; evaluate it on a "
            f"dataset of {' or '.join(sorted(set(model.capabilities) & set(ENCODERS)))}")
    return encode(signal)
