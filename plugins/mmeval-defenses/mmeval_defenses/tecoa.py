"""TeCoA: text-guided contrastive adversarial training (Mao et al., "Understanding Zero-Shot
Adversarial Robustness for Large-Scale Models", ICLR 2023).

Only the image encoder trains (on audio data, the audio encoder: the same recipe with the waveform
in the image's place and an audio inner attack, ``image_attack: mmeval/pgd`` with
``modality: audio``). The loss is the cross-entropy of the zero-shot logits over every
class prompt of the training set on PGD images (eps 1/255, 2 steps of 1/255: the README's training
command), the attack maximizing the same cross-entropy. The text encoder is frozen, so the
class-prompt embeddings are computed once. Unlike the reference code, attack gradients never reach
the parameters.
"""

from __future__ import annotations

from typing import Any

import torch

from mmeval import Batch, ClassPrompts, WeightDefense, build_stage

from .declared import TeCoADeclared, TeCoAParams


class TeCoA(TeCoADeclared, WeightDefense):
    params: TeCoAParams
    trains = ("image",)

    def __init__(self, params: TeCoAParams | None = None) -> None:
        super().__init__(params)
        self.prompts = ClassPrompts(self.params.template)
        self.attack = build_stage(self.params.image_attack)

    def setup(self, model: Any, dataset: Any) -> None:
        self.prompts.setup(model, dataset)

    def perturb(self, model: Any, batch: Batch, rng: Any) -> torch.Tensor:
        return self.attack(model, batch, self.prompts.objective, rng).signal(batch.modality)

    def loss(self, model: Any, batch: Batch, adv: torch.Tensor) -> torch.Tensor:
        return self.prompts.objective.loss(model, adv, batch).mean()
