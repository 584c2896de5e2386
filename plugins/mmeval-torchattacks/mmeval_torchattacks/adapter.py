"""Driving torchattacks (Kim, "Torchattacks: A PyTorch Repository for Adversarial Attacks", 2020)
on a vision-language model.

torchattacks expects a module mapping [0, 1] images to class logits. :class:`ObjectiveLogits` is
exactly that for any (VLModel, classifier-view objective): for zero-shot classification,
``logit_scale * cos(image embedding, cached class-prompt embeddings)``; for retrieval, the same over
every gallery caption. The model normalizes inside its forward, so torchattacks' own normalization
setting stays unused. The attack classes themselves run unchanged.

Audio reaches torchattacks as what it expects: a ``[B, 1, 1, T]`` "image" in [0, 1], the waveform
mapped affinely from [-1, 1] (``(x + 1) / 2``) and back inside :class:`ObjectiveLogits`; eps and
the step size are halved with it, so the budget holds in amplitude units.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np
import torch
import torchattacks
from torch import nn
from torch.overrides import TorchFunctionMode

from mmeval import (
    BOUNDS,
    Attack,
    AttackOutput,
    Batch,
    ClassifierObjective,
    IncompatibleComponentsError,
    VLModel,
)

from .declared import RefusedDeclared, TorchAttackDeclared


class ObjectiveLogits(nn.Module):
    """``images [B, 3, H, W] in [0, 1] -> logits [B, C]`` for a model and a classifier objective
    (for audio, ``[B, 1, 1, T]`` in [0, 1], see :func:`to_unit`). The objective's cached text
    embeddings are reused: nothing is re-encoded per forward."""

    def __init__(self, model: VLModel, objective: ClassifierObjective,
                 modality: str = "image") -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError("torchattacks needs the VLModel to be a torch.nn.Module")
        self.vlm = model
        self.objective = objective
        self.modality = modality

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.objective.logits(self.vlm, from_unit(images, self.modality))


def to_unit(signal: torch.Tensor, modality: str) -> torch.Tensor:
    """The signal as torchattacks sees it: images as they are; a waveform ``[B, T]`` in
    [-1, 1] as ``[B, 1, 1, T]`` in [0, 1]."""
    if modality == "image":
        return signal
    lo, hi = BOUNDS[modality]
    return ((signal - lo) / (hi - lo)).view(len(signal), 1, 1, -1)


def from_unit(x: torch.Tensor, modality: str) -> torch.Tensor:
    """The inverse of :func:`to_unit`."""
    if modality == "image":
        return x
    lo, hi = BOUNDS[modality]
    return x.reshape(len(x), -1) * (hi - lo) + lo


def _size(args: tuple, kwargs: dict) -> tuple[int, ...]:
    """The size ``torch.rand`` / ``torch.randn`` were called with (ints or one sequence)."""
    size = kwargs.get("size", args)
    if len(size) == 1 and isinstance(size[0], list | tuple | torch.Size):
        size = size[0]
    return tuple(int(s) for s in size)


class PerSampleDraws(TorchFunctionMode):
    """Within the block, every random draw of a batch-shaped tensor (leading dimension ``n``) by
    ``uniform_``, ``normal_``, ``torch.rand``, ``torch.randn``, ``torch.rand_like`` and
    ``torch.randn_like`` comes row by row from each sample's own stream (``rng``), so a sample's
    random start or noise does not depend on which samples share its batch. Other draws (a
    shape of one, an index) go to the global generator, seeded per batch."""

    def __init__(self, rng: Any, n: int) -> None:
        super().__init__()
        self.rng, self.n = rng, n

    def _rows(self, normal: bool, shape: tuple[int, ...]) -> torch.Tensor | None:
        if not shape or shape[0] != self.n:
            return None
        return (self.rng.randn if normal else self.rng.rand)(*shape[1:])

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if kwargs.get("generator") is None:
            if func in (torch.Tensor.uniform_, torch.Tensor.normal_):
                t, normal = args[0], func is torch.Tensor.normal_
                rows = self._rows(normal, tuple(t.shape))
                if rows is not None:
                    names = ("mean", "std") if normal else ("from", "to")
                    given = {**kwargs, **dict(zip(names, args[1:], strict=False))}
                    a, b = given.get(names[0], 0.0), given.get(names[1], 1.0)
                    with torch.no_grad():
                        return t.copy_(a + (b * rows if normal else (b - a) * rows))
            elif func in (torch.rand, torch.randn, torch.rand_like, torch.randn_like):
                like = func in (torch.rand_like, torch.randn_like)
                shape = tuple(args[0].shape) if like else _size(args, kwargs)
                rows = self._rows(func in (torch.randn, torch.randn_like), shape)
                if rows is not None:
                    ref = args[0] if like else None
                    return rows.to(device=kwargs.get("device") or (ref.device if like else None),
                                   dtype=kwargs.get("dtype") or (ref.dtype if like else None))
        return func(*args, **kwargs)


class TorchAttack(TorchAttackDeclared, Attack):
    """Base of every wrapped attack: builds the torchattacks object around :class:`ObjectiveLogits`
    and runs it. Its batch-shaped random draws (random starts, EOT and input noise) come from each
    sample's own stream (:class:`PerSampleDraws`); the few others draw from the global torch and
    numpy generators, forked and seeded from the batch's sample seeds, so a run is reproducible."""

    def constructor_kwargs(self, n_classes: int, rng: Any) -> dict[str, Any]:
        kwargs = self.params.model_dump(exclude={"targeted", "modality"})
        lo, hi = BOUNDS[self.params.modality]
        if hi - lo != 1:  # budgets in the signal's units -> torchattacks' [0, 1] units
            for key in (self.eps_field, "alpha"):
                if key in kwargs:
                    kwargs[key] = kwargs[key] / (hi - lo)
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
        modality = batch.modality
        net = ObjectiveLogits(model, objective, modality)
        labels = objective.labels(model, batch)
        x = to_unit(batch.signal, modality)
        with torch.no_grad():
            n_classes = net(x[:1]).shape[1]
        atk = self.build(net, n_classes, rng)
        devices = [x.device] if x.is_cuda else []
        numpy_state = np.random.get_state()  # OnePixel's differential evolution draws from numpy
        try:
            with torch.random.fork_rng(devices=devices), PerSampleDraws(rng, len(x)):
                torch.manual_seed(rng.batch_seed())
                np.random.seed(rng.batch_seed() % 2**32)
                adv = atk(x, labels)
        finally:
            np.random.set_state(numpy_state)
        adv = adv.detach()
        return AttackOutput.of(modality, from_unit(adv.clamp(0, 1) if self.clip_output else adv,
                                                   modality))


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
