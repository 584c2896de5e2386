"""FARE: fine-tuned adversarially robust embeddings (Schlarmann, Singh, Croce, Hein, "Robust CLIP:
Unsupervised Adversarial Fine-Tuning of Vision Embeddings for Robust Large Vision-Language Models",
ICML 2024).

Unsupervised: no labels, no text. The image encoder is pulled to the frozen original's embedding
of the clean image, ``min E ||f(x + delta) - f_orig(x)||^2`` (squared L2 summed over the
unnormalized embedding, averaged over the batch), with delta from PGD maximizing the same distance
(eps 2/255 for FARE^2, 10 steps of 1/255, momentum 0.9, as the reference: with its normalized
velocity a Linf step differs from plain PGD only where a gradient component is exactly zero,
where the previous direction carries on). The text encoder never changes.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any, ClassVar

import torch

from mmeval import Batch, Outcome, WeightDefense, build_stage

from .declared import FAREDeclared, FAREParams


def squared_distance(model: Any, images: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``[B]`` squared L2 between unnormalized image embeddings and ``target`` (fp32)."""
    return (model.encode_image(images, normalize=False).float() - target).pow(2).sum(dim=-1)


class EmbeddingDeviation:
    """FARE's attack objective: move the image embedding away from the original's clean one,
    which each batch carries in ``Batch.targets``."""

    kind: ClassVar[str] = "embedding"

    def prepare(self, model: Any, dataset: Any) -> None:
        """Nothing to prepare: the targets travel with each batch."""

    def loss(self, model: Any, images: torch.Tensor, batch: Batch) -> torch.Tensor:
        if batch.targets is None:
            raise ValueError("EmbeddingDeviation needs the batch's target embeddings in "
                             "Batch.targets")
        return squared_distance(model, images, batch.targets)

    def evaluate(self, model: Any, images: torch.Tensor, batch: Batch) -> Outcome:
        distance = self.loss(model, images, batch)
        return Outcome(distance, distance == 0)

    def is_success(self, model: Any, images: torch.Tensor, batch: Batch) -> torch.Tensor:
        return ~self.evaluate(model, images, batch).correct


class FARE(FAREDeclared, WeightDefense):
    params: FAREParams
    trains = ("image",)

    def __init__(self, params: FAREParams | None = None) -> None:
        super().__init__(params)
        self.attack = build_stage(self.params.image_attack)
        self.objective = EmbeddingDeviation()
        self.original: Any = None

    def setup(self, model: Any, dataset: Any) -> None:
        self.original = copy.deepcopy(model).eval()
        self.original.requires_grad_(False)

    def perturb(self, model: Any, batch: Batch, rng: Any) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            target = self.original.encode_image(batch.images, normalize=False).float()
        return self.attack(model, replace(batch, targets=target), self.objective, rng).images, target

    def loss(self, model: Any, batch: Batch, adv: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        images, target = adv
        return squared_distance(model, images, target).mean()
