"""Multi-Shield (Villani, Maljkovic, Lazzaro, Sotgiu, Cina, Roli, arXiv 2412.10353): an image
classifier ``g`` guarded by CLIP zero-shot, abstaining when the two disagree.

For an input ``x``: ``z = g(x)``, ``y_hat = argmax z``, ``s`` the CLIP cosines to the class prompts;
the reject logit is ``r = max z + |max s - s[y_hat]| - tau`` (tau = 0.001) and the output is the
(C+1)-way vector ``[z, r]``, index C meaning "reject". When CLIP's top class is ``y_hat`` the output
is ``y_hat``; when they disagree by more than tau in cosine it rejects. Being an extra logit, the
rule stays differentiable, so attacks can target it end to end.

- ``defenses/multi-shield`` wraps the spec's CLIP (its zero-shot branch, on the task's class
  prompts) with the classifier named in the params;
- ``multi-shield/adaptive-pgd`` is the adaptive attack: PGD (Linf by default) maximizing
  ``CE(o, y) + CE(o, reject)``, pushing away from the true class and from abstention at once (the
  paper runs APGD-CE on that loss; this is PGD on it, with random start);
- metrics: ``rejection-rate`` (on clean or attacked inputs) and ``robust-accuracy-with-rejection``
  (an attacked sample counts as handled when predicted right or rejected; on clean inputs a
  rejection is wrong, which ``clean-accuracy`` already counts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mmeval import (
    PGD,
    Batch,
    build_stage,
)

from .declared import AdaptivePGDDeclared, MultiShieldDeclared, MultiShieldParams


class MultiShieldModel(nn.Module):
    """The CLIP with the classifier attached; the zero-shot objective calls ``zero_shot_head``."""

    def __init__(self, clip: Any, classifier: Any, tau: float) -> None:
        super().__init__()
        self.clip, self.classifier, self.tau = clip, classifier, tau
        self.input_specs = clip.input_specs
        self.capabilities = clip.capabilities

    @property
    def logit_scale(self) -> float:
        return self.clip.logit_scale

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return self.clip.encode_image(images)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        return self.clip.encode_text(texts)

    def zero_shot_head(self, images: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """``[B, C+1]``: the classifier's logits and the reject logit from CLIP's ``logits``."""
        z = self.classifier.classify(images).float()
        if z.shape != logits.shape:
            raise ValueError(f"the classifier has {z.shape[1]} classes, the task {logits.shape[1]}")
        s = logits.float() / self.clip.logit_scale
        y_hat = z.argmax(dim=1, keepdim=True)
        gap = (s.amax(dim=1) - s.gather(1, y_hat).squeeze(1)).abs()
        return torch.cat([z, (z.amax(dim=1) + gap - self.tau).unsqueeze(1)], dim=1)


class MultiShield(MultiShieldDeclared):
    """Detector defense: abstains when the classifier and CLIP zero-shot disagree."""

    def __init__(self, params: MultiShieldParams | None = None) -> None:
        self.params = params or self.Params()

    def apply(self, model: Any) -> MultiShieldModel:
        classifier = build_stage(self.params.classifier, "model")
        if not hasattr(classifier, "classify"):
            raise TypeError(f"'{self.params.classifier.name}' is not an image classifier "
                            "(it has no classify())")
        return MultiShieldModel(model, classifier, self.params.tau)


class AdaptivePGD(AdaptivePGDDeclared, PGD):
    """PGD on ``CE(o, y) + CE(o, reject)`` over the (C+1)-way output; on a model without a reject
    class it is plain PGD on CE."""

    def loss(self, model: Any, batch: Batch, objective: Any) -> Any:
        y = objective.labels(model, batch)
        classes = len(objective.class_names)
        reject = torch.full_like(y, classes)

        def loss(images: torch.Tensor) -> torch.Tensor:
            out = objective.logits(model, images)
            ce = F.cross_entropy(out, y, reduction="none")
            if out.shape[1] > classes:
                ce = ce + F.cross_entropy(out, reject, reduction="none")
            return ce

        return loss
