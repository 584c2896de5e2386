"""What a weight defense declares, readable without torch: its params (the checkpoint it is
evaluated from) and flags. :class:`~mmeval.training.defense.WeightDefense` subclasses it."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from ..checkpoints import check_checkpoint
from ..registry import INPUT, Params

Tower = Literal["image", "audio", "text", "scale"]


class WeightDefenseParams(Params):
    checkpoint: str | None = Field(
        default=None, description="evaluation: a checkpoint `mmeval train` wrote with this defense "
        "(loaded into the model); not used by training", json_schema_extra=INPUT)

    _readable = field_validator("checkpoint")(lambda v: v and check_checkpoint(v))


class WeightDefenseDeclared:
    """A fine-tuning defense: evaluated from the checkpoint ``mmeval train`` wrote with it."""

    kind: ClassVar[str] = "weights"
    stochastic: ClassVar[bool] = False
    differentiable: ClassVar[bool] = True
    Params: ClassVar[type[WeightDefenseParams]] = WeightDefenseParams
