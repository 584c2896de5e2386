"""TeCoA: text-guided contrastive adversarial training (Mao et al., "Understanding Zero-Shot
Adversarial Robustness for Large-Scale Models", ICLR 2023).

Only the image encoder trains. The loss is the cross-entropy of the zero-shot logits over every
class prompt of the training set on PGD images (eps 1/255, 2 steps of 1/255: the README's training
command), the attack maximizing the same cross-entropy. The text encoder is frozen, so the
class-prompt embeddings are computed once. Unlike the reference code, attack gradients never reach
the parameters.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field

from mmeval import Batch, ClassPrompts, ComponentRef, WeightDefense, WeightDefenseParams, build_stage, stage

#: TeCoA's training attack (README: --train_eps 1 --train_numsteps 2 --train_stepsize 1)
TRAIN_ATTACK = {"name": "mmeval/pgd", "params": {"eps": 1 / 255, "steps": 2, "step_size": 1 / 255}}


class TeCoAParams(WeightDefenseParams):
    template: str = Field(default="This is a photo of a {}", description="class prompt template")
    image_attack: ComponentRef = stage(TRAIN_ATTACK, modality="image",
                                       description="the inner attack, on the zero-shot CE")


class TeCoA(WeightDefense):
    Params = TeCoAParams
    params: TeCoAParams
    trains = ("image",)

    def __init__(self, params: TeCoAParams | None = None) -> None:
        super().__init__(params)
        self.prompts = ClassPrompts(self.params.template)
        self.attack = build_stage(self.params.image_attack)

    def setup(self, model: Any, dataset: Any) -> None:
        self.prompts.setup(model, dataset)

    def perturb(self, model: Any, batch: Batch, rng: Any) -> torch.Tensor:
        return self.attack(model, batch, self.prompts.objective, rng).images

    def loss(self, model: Any, batch: Batch, adv: torch.Tensor) -> torch.Tensor:
        return self.prompts.objective.loss(model, adv, batch).mean()
