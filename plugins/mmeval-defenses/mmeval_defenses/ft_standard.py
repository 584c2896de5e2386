"""FT-standard: clean fine-tuning of both encoders with the CLIP contrastive loss (Radford et al.,
ICML 2021) — the non-adversarial baseline of MMCoA's comparison (Zhou et al., arXiv 2404.19287)."""

from __future__ import annotations

from typing import Any

import torch

from mmeval import Batch, WeightDefense, contrastive_loss

from .declared import FTStandardDeclared, PairParams
from .pairs import Pairs


class FTStandard(FTStandardDeclared, WeightDefense):
    """Symmetric in-batch InfoNCE on (image, paired text); image, text and logit scale train."""

    params: PairParams

    def __init__(self, params: PairParams | None = None) -> None:
        super().__init__(params)
        self.pairs = Pairs(self.params)

    def setup(self, model: Any, dataset: Any) -> None:
        self.pairs.setup(model, dataset)

    def loss(self, model: Any, batch: Batch, adv: Any) -> torch.Tensor:
        return contrastive_loss(model.encode_image(batch.images),
                                model.encode_text(self.pairs.of(batch)),
                                model.trainable_logit_scale())
