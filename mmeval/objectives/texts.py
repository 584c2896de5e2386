"""Text embeddings for objectives: class prompts and caption galleries, in chunks."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..protocols import VLModel

TEXT_CHUNK = 256


def encode_texts(model: VLModel, texts: Sequence[str]) -> torch.Tensor:
    """Embeddings of ``texts`` (no grad), in chunks so a large gallery fits in memory."""
    with torch.no_grad():
        return torch.cat([model.encode_text(list(texts[i:i + TEXT_CHUNK])).float()
                          for i in range(0, len(texts), TEXT_CHUNK)])
