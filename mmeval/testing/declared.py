"""What the toy model and dataset declare, readable without torch (``toy`` subclasses these)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from ..checkpoints import check_checkpoint
from ..registry import INPUT, Params

CLASS_NAMES = ("circle", "square", "triangle", "star", "cross",
               "ring", "heart", "arrow", "moon", "hexagon")


class ToyVLMParams(Params):
    seed: int = Field(default=0, ge=0, description="world and weight seed")
    num_classes: int = Field(default=10, ge=2, le=len(CLASS_NAMES))
    image_size: int = Field(default=16, ge=4, le=64)
    embed_dim: int = Field(default=32, ge=4)
    pretrained: str | None = Field(default=None, description="checkpoint to load (safetensors)",
                                   json_schema_extra=INPUT)

    _readable = field_validator("pretrained")(lambda v: v and check_checkpoint(v))


class ToyVLMDeclared:
    """Deterministic toy CLIP-like model for tests and demos."""

    Params = ToyVLMParams
    capabilities = frozenset({"image", "text"})


class ToyDatasetParams(Params):
    n: int = Field(default=200, ge=1, description="number of samples")
    world_seed: int = Field(default=0, ge=0, description="must match the toy model's seed")
    sample_seed: int = Field(default=0, ge=0)
    num_classes: int = Field(default=10, ge=2, le=len(CLASS_NAMES))
    image_size: int = Field(default=16, ge=4, le=64)
    noise: float = Field(default=0.06, ge=0.0, le=1.0, description="Gaussian noise std")


class ToyDatasetDeclared:
    """Noisy class prototypes the toy VLM recognises."""

    Params = ToyDatasetParams
    objectives: ClassVar[tuple[str, ...]] = ("classification", "retrieval")
    modality: ClassVar[str] = "image"
