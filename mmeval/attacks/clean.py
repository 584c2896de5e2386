"""The ``clean`` attack: returns the inputs unchanged (clean accuracy as a cell of the grid)."""

from __future__ import annotations

from typing import ClassVar

from ..protocols import BatchRandomLike, Objective, VLModel
from ..types import AttackOutput, Batch, Modality
from .base import Attack


class Clean(Attack):
    """No attack: the adversarial input is the clean input."""

    modality: ClassVar[Modality] = "none"
    noop: ClassVar[bool] = True

    def run(self, model: VLModel, batch: Batch, objective: Objective,
            rng: BatchRandomLike) -> AttackOutput:
        return AttackOutput(images=batch.images)
