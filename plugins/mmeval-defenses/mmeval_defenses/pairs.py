"""The texts a fine-tuning step pairs each image with: the prompt of its true class (MMCoA's and
TeCoA's training pairs on classification data) or its first caption (the dataset's 1:1 pairs)."""

from __future__ import annotations

from typing import Any

from mmeval import Batch, ClassPrompts, SpecError

from .declared import PairParams


class Pairs:
    """Which text each image of a training batch is paired with."""

    def __init__(self, params: PairParams) -> None:
        self.params = params
        self.prompts = ClassPrompts(params.template)

    def setup(self, model: Any, dataset: Any, class_prompts: bool = False) -> None:
        """``class_prompts``: embed the class prompts even when pairing with captions (for a
        defense whose attack needs them)."""
        if self.params.texts == "prompts" or class_prompts:
            self.prompts.setup(model, dataset)
        if self.params.texts == "captions" and not dataset[0].texts:
            raise SpecError("texts='captions' needs a dataset whose samples carry captions",
                            "defense.params.texts")

    def of(self, batch: Batch) -> list[str]:
        if self.params.texts == "prompts":
            return self.prompts.of(batch)
        return [texts[0] for texts in batch.texts]
