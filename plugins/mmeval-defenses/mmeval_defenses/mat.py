"""MAT / MAT+: multimodal adversarial training for image-text retrieval (Waseda, Tejero-de-Pablos,
Echizen, "Rethinking Adversarial Training for Vision-Language Models with One-to-Many
Augmentations", arXiv 2405.18770, WACV 2026).

Per step: the images are perturbed by Linf PGD on the in-batch contrastive loss against the paired
texts, then the paired texts by a registered text attack against the adversarial images; both
encoders and the logit scale train on the symmetric in-batch contrastive loss of (adv image,
adv text). MAT pairs each image with its first caption (the dataset's 1:1 pairs); MAT+
(``mat_plus=True``) pairs it with up to ``captions_per_image`` of its captions at once, every one a
positive (one-to-many), each attacked.

The reference code could not be read, so the image attack (with its budget) and the text attack
have no defaults: they are required, each a registered attack (a stage, like TeCoA's and MMCoA's),
for example ``{"name": "mmeval/pgd", "params": {"eps": 2/255, "steps": 10, "step_size": 0.5/255}}``.
MAT+'s image-side (N:1) augmentations are not reproduced: the one-to-many pairs come from the
dataset's own captions.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from mmeval import (
    Batch,
    InBatchMatching,
    SpecError,
    WeightDefense,
    build_stage,
    contrastive_loss,
    text_owners,
)

from .declared import MATDeclared, MATParams


class MAT(MATDeclared, WeightDefense):
    params: MATParams

    def __init__(self, params: MATParams | None = None) -> None:
        super().__init__(params)
        self.image_attack = build_stage(self.params.image_attack)
        self.text_attack = build_stage(self.params.text_attack)
        self.matching = InBatchMatching()

    def setup(self, model: Any, dataset: Any) -> None:
        have = len(dataset[0].texts)
        need = self.params.captions_per_image or 1
        if have < need:
            raise SpecError(f"the dataset has {have} caption(s) per image, MAT needs {need}",
                            "defense.params.captions_per_image")

    def pairs(self, batch: Batch) -> Batch:
        """``batch`` with each image's training captions (one for MAT, several for MAT+)."""
        n = self.params.captions_per_image or 1
        return replace(batch, texts=tuple(tuple(t[:n]) for t in batch.texts), prompts=None)

    def perturb(self, model: Any, batch: Batch, rng: Any) -> Batch:
        paired = self.pairs(batch)
        images = self.image_attack(model, paired, self.matching, rng).images
        texts = self.text_attack(model, replace(paired, images=images), self.matching, rng).texts
        return replace(paired, images=images, texts=texts or paired.texts)

    def loss(self, model: Any, batch: Batch, adv: Batch) -> torch.Tensor:
        owner = text_owners(adv)
        flat = [t for texts in adv.texts for t in texts]
        return contrastive_loss(model.encode_image(adv.images), model.encode_text(flat),
                                model.trainable_logit_scale(), owner)
