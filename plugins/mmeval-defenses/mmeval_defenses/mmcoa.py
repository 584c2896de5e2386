"""MMCoA: multimodal contrastive adversarial training (Zhou, Bai, Zhao, Chen, arXiv 2404.19287).

Both encoders and the logit scale train on
``image_weight * L(adv image, clean text) + text_weight * L(clean image, adv text)``, each ``L`` the
in-batch contrastive loss summed over its two directions, ``CE(image->text) + CE(text->image)``
(the paper's and the reference's scale; targets: the diagonal, so same-class images in a batch
count as negatives, as in the reference). Adversarial images come from PGD on the zero-shot CE over every
class prompt (eps 1/255, 10 steps of 1/255); adversarial texts from a registered text attack, by
default the BERT-Attack variant pushing each paired text's embedding away from its clean one by KL
(1 word, k = 10).

The scale matters: with Adam's coupled weight decay (the reference's ``weight_decay=0.2``), a loss
half as large trains like twice the weight decay, so reference hyperparameters carry over only on
the reference's scale, which this is.

Deviations from the released code, all deliberate: attack gradients reach the inputs only (the
reference accumulates the 10 PGD steps' parameter gradients into the update); the class-prompt
embeddings the image attack uses are refreshed every step, since the text encoder trains.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from mmeval import Batch, InBatchMatching, WeightDefense, build_stage, contrastive_loss

from .declared import MMCoADeclared, MMCoAParams
from .pairs import Pairs


class MMCoA(MMCoADeclared, WeightDefense):
    params: MMCoAParams

    def __init__(self, params: MMCoAParams | None = None) -> None:
        super().__init__(params)
        self.pairs = Pairs(self.params)
        self.image_attack = build_stage(self.params.image_attack)
        self.text_attack = build_stage(self.params.text_attack)
        self.matching = InBatchMatching()

    def setup(self, model: Any, dataset: Any) -> None:
        self.pairs.setup(model, dataset, class_prompts=True)  # the image attack needs them

    def perturb(self, model: Any, batch: Batch, rng: Any) -> tuple[torch.Tensor | None, list[str], list[str]]:
        texts = self.pairs.of(batch)
        images = adv_texts = None
        if self.params.image_weight:
            self.pairs.prompts.refresh(model)
            images = self.image_attack(model, batch, self.pairs.prompts.objective, rng).images
        if self.params.text_weight:
            paired = replace(batch, texts=tuple((t,) for t in texts), prompts=None)
            out = self.text_attack(model, paired, self.matching, rng)
            adv_texts = [t[0] for t in out.texts] if out.texts is not None else texts
        return images, texts, adv_texts or texts

    def loss(self, model: Any, batch: Batch, adv: tuple[Any, list[str], list[str]]) -> torch.Tensor:
        images, texts, adv_texts = adv
        scale = model.trainable_logit_scale()
        total = torch.zeros((), device=batch.images.device)
        # contrastive_loss is the mean of the two directions; MMCoA sums them
        if self.params.image_weight:
            total = total + self.params.image_weight * 2 * contrastive_loss(
                model.encode_image(images), model.encode_text(texts), scale)
        if self.params.text_weight:
            total = total + self.params.text_weight * 2 * contrastive_loss(
                model.encode_image(batch.images), model.encode_text(adv_texts), scale)
        return total
