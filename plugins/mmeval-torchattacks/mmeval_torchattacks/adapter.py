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
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import torchattacks
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from mmeval import (
    Attack,
    AttackOutput,
    Batch,
    ClassifierObjective,
    IncompatibleComponentsError,
    Params,
    ThreatModel,
    VLModel,
)

Targeting = Literal["none", "random", "least-likely"]


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


class TorchattacksParams(Params):
    """Base of the per-attack params: the torchattacks constructor's arguments, same defaults."""

    @model_validator(mode="after")
    def _linf_eps(self) -> TorchattacksParams:
        eps = getattr(self, "eps", None)
        if eps is not None and getattr(self, "norm", "Linf") == "Linf" and eps > 1:
            raise ValueError(f"a Linf eps above 1 is meaningless for [0, 1] images (got {eps}); "
                             "write it in pixel units, e.g. 8/255")
        return self


class TargetedParams(TorchattacksParams):
    targeted: Targeting = Field(
        default="none", description="torchattacks targeted mode: a random wrong class, or the "
        "least likely class (kth_min=1)")


class TorchAttack(Attack):
    """Base of every wrapped attack: builds the torchattacks object around :class:`ObjectiveLogits`
    and runs it. Randomized torchattacks attacks draw from the global torch RNG; it is forked and
    seeded from the batch's sample seeds, so a run is reproducible (for these attacks the random
    draws depend on which samples share a batch)."""

    attack_class: ClassVar[str]
    default_norm: ClassVar[str] = "Linf"
    bounded: ClassVar[bool] = True  # False: minimal-perturbation attacks with no eps ball
    takes_n_classes: ClassVar[bool] = False
    #: the params field holding the budget (PI-FGSM names it ``max_epsilon``)
    eps_field: ClassVar[str] = "eps"
    #: clip the output into [0, 1]: torchattacks 3.5.1's EAD returns pixels outside it
    clip_output: ClassVar[bool] = False
    uses_gradients: ClassVar[bool] = True
    objectives: ClassVar[tuple[str, ...] | None] = ("classification", "retrieval")

    @property
    def threat_model(self) -> ThreatModel:
        if not self.bounded:
            return ThreatModel("image")
        norm = getattr(self.params, "norm", self.default_norm)
        return ThreatModel("image", "linf" if norm == "Linf" else "l2",
                           getattr(self.params, self.eps_field))

    @property
    def eot(self) -> bool:
        """EOT-PGD and APGD with ``eot_iter`` > 1 average gradients over the model's randomness."""
        return getattr(self.params, "eot_iter", 1) > 1

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


class AnyParams(Params):
    """Whatever a refused attack is given: the refusal, not the params, is the message."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Refused(Attack):
    """A torchattacks attack that does not apply to a VLM task: ``plan()`` refuses it with
    ``reason`` (through ``preflight``), naming what would make it apply."""

    Params = AnyParams
    reason: ClassVar[str]

    @classmethod
    def preflight(cls, params: AnyParams) -> None:
        raise IncompatibleComponentsError(cls.reason)

    def run(self, model: VLModel, batch: Batch, objective: Any, rng: Any) -> AttackOutput:
        raise IncompatibleComponentsError(self.reason)


def refused(name: str, reason: str) -> type[Refused]:
    return type(name, (Refused,), {"reason": f"torchattacks.{name} is not supported: {reason}",
                                   "__doc__": f"torchattacks.{name}: refused at plan time"})


def make(name: str, params: type[BaseModel], **traits: Any) -> type[TorchAttack]:
    """A :class:`TorchAttack` subclass for ``torchattacks.<name>`` with the given params."""
    doc = (getattr(torchattacks, name).__doc__ or "").strip().split("\n")[0]
    return type(name, (TorchAttack,), {"attack_class": name, "Params": params,
                                       "__doc__": f"torchattacks.{name}: {doc}", **traits})
