"""The ``clean`` attack: returns the inputs unchanged (clean accuracy as a cell of the grid)."""

from __future__ import annotations

from ..protocols import BatchRandomLike, Objective, VLModel
from ..types import AttackOutput, Batch
from .base import Attack
from .declared import CleanDeclared


class Clean(CleanDeclared, Attack):
    """No attack: the adversarial input is the clean input."""

    def run(self, model: VLModel, batch: Batch, objective: Objective,
            rng: BatchRandomLike) -> AttackOutput:
        return AttackOutput.of(batch.modality, batch.signal)
