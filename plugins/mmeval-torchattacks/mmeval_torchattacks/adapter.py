"""Driving torchattacks (Kim, "Torchattacks: A PyTorch Repository for Adversarial Attacks", 2020)
on a vision-language model.

torchattacks expects a module mapping [0, 1] images to class logits. :class:`ObjectiveLogits` is
exactly that for any (VLModel, classifier-view objective): for zero-shot classification,
``logit_scale * cos(image embedding, cached class-prompt embeddings)``; for retrieval, the same over
every gallery caption. The model normalizes inside its forward, so torchattacks' own normalization
setting stays unused. The attack classes themselves run unchanged.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np
import torch
import torchattacks
from torch import nn

from mmeval import (
    Attack,
    AttackOutput,
    Batch,
    ClassifierObjective,
    IncompatibleComponentsError,
    VLModel,
)

from .declared import RefusedDeclared, TorchAttackDeclared


class ObjectiveLogits(nn.Module):
    """``images [B, 3, H, W] in [0, 1] -> logits [B, C]`` for a model and a classifier objective.
    The objective's cached text embeddings are reused: nothing is re-encoded per forward."""

    def __init__(self, model: VLModel, objective: ClassifierObjective) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError("torchattacks needs the VLModel to be a torch.nn.Module")
        self.vlm = model
        self.objective = objective

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.objective.logits(self.vlm, images)


class TorchAttack(TorchAttackDeclared, Attack):
    """Base of every wrapped attack: builds the torchattacks object around :class:`ObjectiveLogits`
    and runs it. Randomized torchattacks attacks draw from the global torch RNG; it is forked and
    seeded from the batch's sample seeds, so a run is reproducible (for these attacks the random
    draws depend on which samples share a batch)."""

    def constructor_kwargs(self, n_classes: int, rng: Any) -> dict[str, Any]:
        kwargs = self.params.model_dump(exclude={"targeted"})
        if self.takes_n_classes:
            kwargs["n_classes"] = n_classes
        if "seed" in kwargs and kwargs["seed"] is None:
            kwargs["seed"] = rng.batch_seed() % (2**31)
        return kwargs

    def build(self, net: ObjectiveLogits, n_classes: int, rng: Any) -> torchattacks.Attack:
        atk = getattr(torchattacks, self.attack_class)(net, **self.constructor_kwargs(n_classes, rng))
        targeted = getattr(self.params, "targeted", "none")
        with contextlib.redirect_stdout(io.StringIO()):  # torchattacks prints the mode change
            if targeted == "random":
                atk.set_mode_targeted_random()
            elif targeted == "least-likely":
                atk.set_mode_targeted_least_likely(1)
        return atk

    def run(self, model: VLModel, batch: Batch, objective: Any, rng: Any) -> AttackOutput:
        if not isinstance(objective, ClassifierObjective):
            raise IncompatibleComponentsError(
                f"{type(objective).__name__} has no classifier view (logits/labels); "
                "torchattacks attacks need one")
        net = ObjectiveLogits(model, objective)
        labels = objective.labels(model, batch)
        with torch.no_grad():
            n_classes = net(batch.images[:1]).shape[1]
        atk = self.build(net, n_classes, rng)
        devices = [batch.images.device] if batch.images.is_cuda else []
        numpy_state = np.random.get_state()  # OnePixel's differential evolution draws from numpy
        try:
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(rng.batch_seed())
                np.random.seed(rng.batch_seed() % 2**32)
                adv = atk(batch.images, labels)
        finally:
            np.random.set_state(numpy_state)
        adv = adv.detach()
        return AttackOutput(images=adv.clamp(0, 1) if self.clip_output else adv)


class Refused(RefusedDeclared, Attack):
    """A refused attack, should one be built anyway: it raises its reason."""

    def run(self, model: VLModel, batch: Batch, objective: Any, rng: Any) -> AttackOutput:
        raise IncompatibleComponentsError(self.reason)


def attack_class(declaration: type) -> type[Attack]:
    """The runnable attack of a declaration from :mod:`~mmeval_torchattacks.catalogue`."""
    if issubclass(declaration, RefusedDeclared):
        return type(declaration.__name__, (declaration, Refused), {})
    name = declaration.__name__
    doc = (getattr(torchattacks, name).__doc__ or "").strip().split("\n")[0]
    return type(name, (declaration, TorchAttack), {"__doc__": f"torchattacks.{name}: {doc}"})
