"""The base of weight defenses: what the training engine calls, and how an EvalSpec evaluates the
result. A subclass declares the towers it trains and implements the inner maximization
(:meth:`WeightDefense.perturb`, run with the model in eval mode and every parameter frozen, so
attack gradients reach the inputs only) and the outer loss (:meth:`WeightDefense.loss`, a scalar the
engine minimizes).

In an EvalSpec, ``{"name": "defenses/tecoa", "params": {"checkpoint": ".../model.safetensors"}}``
loads what ``mmeval train`` wrote for that defense into the model; the same checkpoint also loads
directly as the model's ``pretrained=``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ..data import head
from ..errors import SpecError
from ..objectives.zero_shot import ZeroShotClassification, ZeroShotParams
from ..protocols import BatchRandomLike, Dataset
from ..types import Batch
from .declared import Tower, WeightDefenseDeclared, WeightDefenseParams


class WeightDefense(WeightDefenseDeclared):
    """Fine-tuning defense. ``trains``: the towers whose parameters the optimizer updates (the
    others stay bit-identical); ``image`` there names the tower of the training data's signal,
    so a defense of the image encoder fine-tunes the audio encoder on audio data."""

    trains: ClassVar[tuple[Tower, ...]] = ("image", "text", "scale")

    @classmethod
    def towers(cls, modality: str) -> tuple[Tower, ...]:
        """The towers trained on data of ``modality`` (image or audio)."""
        return tuple(modality if t == "image" else t for t in cls.trains)  # type: ignore[misc]

    def __init__(self, params: WeightDefenseParams | None = None) -> None:
        self.params = params or self.Params()

    def apply(self, model: Any) -> Any:
        """The model with this defense's trained weights loaded (evaluation)."""
        if not self.params.checkpoint:
            raise SpecError("a weight defense is evaluated from a checkpoint; train one with "
                            "`mmeval train` and pass its path", "params.checkpoint")
        model.load_checkpoint(self.params.checkpoint)
        return model

    def setup(self, model: Any, dataset: Dataset) -> None:
        """Called once before training, with the model as loaded (e.g. keep a frozen copy)."""

    def perturb(self, model: Any, batch: Batch, rng: BatchRandomLike) -> Any:
        """The inner maximization for ``batch`` (adversarial images and/or texts); None for clean
        training. Runs in attack mode: eval, parameters frozen."""
        return None

    def loss(self, model: Any, batch: Batch, adv: Any) -> torch.Tensor:
        """The scalar training loss of ``batch`` given ``perturb``'s output (train mode)."""
        raise NotImplementedError


class ClassPrompts:
    """Zero-shot class prompts of a training set ("This is a photo of a {class}", as TeCoA and
    MMCoA train with): their cached embeddings (refreshed when the text tower trains) and the
    prompt of each sample's true class."""

    def __init__(self, template: str) -> None:
        self.objective = ZeroShotClassification(ZeroShotParams(template=template))
        self.dataset: Dataset | None = None

    def setup(self, model: Any, dataset: Dataset) -> None:
        if not getattr(dataset, "class_names", None):
            raise SpecError("this defense trains on class prompts and needs a dataset with "
                            "class_names (e.g. shapes, cifar10)", "dataset")
        self.dataset = head(dataset, 1)
        self.refresh(model)

    def refresh(self, model: Any) -> None:
        """Re-embed the class prompts with the current text tower (no gradient)."""
        assert self.dataset is not None, "setup() first"
        self.objective.prepare(model, self.dataset)

    def of(self, batch: Batch) -> list[str]:
        """The prompt of each sample's true class."""
        if batch.labels is None:
            raise SpecError("training on class prompts needs labelled samples", "dataset")
        return [self.objective.prompts[y] for y in batch.labels.tolist()]
