"""Zero-shot classification (Radford et al., "Learning Transferable Visual Models From Natural
Language Supervision", ICML 2021): logits = logit_scale * cos(image embedding, class-prompt embedding).
"""

from __future__ import annotations

import re
from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator

from ..errors import DataError
from ..protocols import Dataset, VLModel
from ..registry import Params
from ..types import Batch, Outcome


class ZeroShotParams(Params):
    template: str = Field(default="This is a photo of a {}",
                          description="prompt with one {} for the class name (TeCoA/MMCoA prompt)")

    @field_validator("template")
    @classmethod
    def _one_slot(cls, v: str) -> str:
        if v.count("{}") != 1:
            raise ValueError("the template needs exactly one '{}' for the class name")
        return v


def clean_class_name(name: str) -> str:
    """Lower-case; ``_``, ``-`` and ``/`` become spaces (the TeCoA/MMCoA convention)."""
    return re.sub(r"\s+", " ", re.sub(r"[_\-/]", " ", name.lower())).strip()


class ZeroShotClassification:
    """Untargeted zero-shot classification. The attacker maximizes the per-sample cross-entropy of
    the zero-shot logits; class-prompt embeddings are computed once in ``prepare`` and cached."""

    kind: ClassVar[str] = "classification"
    Params = ZeroShotParams

    def __init__(self, params: ZeroShotParams | None = None) -> None:
        self.params = params or ZeroShotParams()
        self.class_names: tuple[str, ...] = ()
        self.prompts: tuple[str, ...] = ()
        self.text_features: torch.Tensor | None = None

    def prepare(self, model: VLModel, dataset: Dataset) -> None:
        names = getattr(dataset, "class_names", None)
        if not names:
            raise DataError("zero-shot classification needs a dataset with class_names")
        self.class_names = tuple(names)
        self.prompts = tuple(self.params.template.format(clean_class_name(n)) for n in names)
        with torch.no_grad():
            self.text_features = model.encode_text(list(self.prompts)).float()

    def logits(self, model: VLModel, images: torch.Tensor) -> torch.Tensor:
        """``[B, C]`` zero-shot logits (the classifier view attack libraries drive)."""
        if self.text_features is None:
            raise RuntimeError("ZeroShotClassification.prepare() must run before use")
        feats = model.encode_image(images).float()
        return model.logit_scale * feats @ self.text_features.to(feats.device).T

    def labels(self, model: VLModel, batch: Batch) -> torch.Tensor:
        """``[B]`` true class indices (on the images' device)."""
        if batch.labels is None:
            raise DataError("zero-shot classification needs labels in every batch")
        return batch.labels.to(batch.images.device)

    def loss(self, model: VLModel, images: torch.Tensor, batch: Batch) -> torch.Tensor:
        labels = self.labels(model, batch).to(images.device)
        return F.cross_entropy(self.logits(model, images), labels, reduction="none")

    def evaluate(self, model: VLModel, images: torch.Tensor, batch: Batch) -> Outcome:
        labels = self.labels(model, batch).to(images.device)
        pred = self.logits(model, images).argmax(dim=-1)
        return Outcome(pred, pred == labels)

    def is_success(self, model: VLModel, images: torch.Tensor, batch: Batch) -> torch.Tensor:
        return ~self.evaluate(model, images, batch).correct
