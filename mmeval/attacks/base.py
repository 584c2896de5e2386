"""The attack base class: checks inputs once, runs the attack with the model in eval mode and its
parameters frozen, never lets the batch be mutated, and projects + verifies every output against
the declared threat model. A violation beyond float round-off raises; nothing is silently fixed."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import torch

from ..errors import DataError, ThreatModelViolation
from ..protocols import BatchRandomLike, Objective, PromptObjective, VLModel
from ..types import AttackOutput, Batch, Norm, ThreatModel
from .declared import AttackDeclaration

TOLERANCE = 1e-5


@contextmanager
def attack_mode(model: VLModel) -> Iterator[None]:
    """Eval mode and ``requires_grad=False`` on every parameter; both restored on exit, so attack
    gradients are taken w.r.t. inputs only and never touch ``param.grad``."""
    was_training = model.training
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    model.eval()
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags, strict=True):
            p.requires_grad_(flag)
        model.train(was_training)


def check_images(images: torch.Tensor) -> None:
    """Inputs must be a float ``[B, 3, H, W]`` tensor, finite, in [0, 1]."""
    if not torch.is_floating_point(images) or images.dim() != 4:
        raise DataError(f"images must be a float [B, C, H, W] tensor, got {images.dtype} "
                        f"{tuple(images.shape)}")
    if not torch.isfinite(images).all():
        raise DataError("images contain NaN or inf")
    lo, hi = float(images.min()), float(images.max())
    if lo < 0.0 or hi > 1.0:
        raise DataError(f"images must lie in [0, 1] (unnormalized); got range [{lo:.4g}, {hi:.4g}]"
                        " — the model normalizes inside its forward, so pass raw pixels")


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1)


def project(clean: torch.Tensor, adv: torch.Tensor, norm: Norm, eps: float) -> torch.Tensor:
    """Clamp ``adv`` into [0, 1] and into the ``norm`` ball of radius ``eps`` around ``clean``."""
    delta = adv.clamp(0.0, 1.0) - clean
    if norm == "linf":
        delta = delta.clamp(-eps, eps)
    else:
        n = _flat(delta).norm(dim=1).clamp_min(1e-12)
        factor = (eps / n).clamp(max=1.0).view(-1, *([1] * (delta.dim() - 1)))
        delta = delta * factor
    return (clean + delta).clamp(0.0, 1.0)


def _words_changed(a: str, b: str) -> int:
    wa, wb = a.split(), b.split()
    ops = difflib.SequenceMatcher(a=wa, b=wb, autojunk=False).get_opcodes()
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")


def _verify_texts(tm: ThreatModel, clean: tuple[tuple[str, ...], ...],
                  adv: tuple[tuple[str, ...], ...] | None, what: str) -> None:
    if adv is None:
        return
    if "text" not in tm.modality:
        if adv != clean:
            raise ThreatModelViolation(f"threat model '{tm.modality}' forbids changing {what}")
        return
    if len(adv) != len(clean) or any(len(a) != len(c) for a, c in zip(adv, clean, strict=True)):
        raise ThreatModelViolation(f"the attack changed the number of {what}")
    for orig, new in zip(clean, adv, strict=True):
        for a, b in zip(orig, new, strict=True):
            budget = tm.max_words if tm.max_words is not None else math.inf
            if tm.max_word_fraction is not None:
                budget = min(budget, math.ceil(tm.max_word_fraction * len(a.split())))
            if _words_changed(a, b) > budget:
                raise ThreatModelViolation(
                    f"text attack changed more than {budget} words: {a!r} -> {b!r}")


def verify_output(tm: ThreatModel, batch: Batch, out: AttackOutput,
                  prompts: tuple[str, ...] | None = None) -> AttackOutput:
    """Check ``out`` against ``tm`` (``prompts``: the objective's clean class prompts) and return it
    with images projected exactly onto the threat model. Raises ThreatModelViolation if anything
    is off by more than round-off."""
    clean = batch.images
    adv = clean if out.images is None else out.images
    if adv.shape != clean.shape:
        raise ThreatModelViolation(f"adversarial images have shape {tuple(adv.shape)}, "
                                   f"expected {tuple(clean.shape)}")
    adv = adv.detach().to(clean.dtype)
    if not torch.isfinite(adv).all():
        raise ThreatModelViolation("adversarial images contain NaN or inf")
    lo, hi = float(adv.min()), float(adv.max())
    if lo < -TOLERANCE or hi > 1.0 + TOLERANCE:
        raise ThreatModelViolation(f"adversarial images leave [0, 1]: range [{lo:.6g}, {hi:.6g}]")
    delta = _flat(adv - clean)
    if "image" not in tm.modality:
        if delta.abs().max() > 0:
            raise ThreatModelViolation(f"threat model '{tm.modality}' forbids changing images")
    elif tm.norm is not None and tm.eps is not None:
        size = delta.abs().amax(dim=1) if tm.norm == "linf" else delta.norm(dim=1)
        worst = float(size.max()) if len(size) else 0.0
        if worst > tm.eps * (1 + TOLERANCE) + TOLERANCE:
            raise ThreatModelViolation(f"perturbation {tm.norm} norm {worst:.6g} exceeds eps "
                                       f"{tm.eps:.6g}")
        adv = project(clean, adv, tm.norm, tm.eps)
    _verify_texts(tm, batch.texts, out.texts, "captions")
    if out.prompts is not None:
        if prompts is None or len(out.prompts) != len(batch):
            raise ThreatModelViolation("the attack returned class prompts for an objective that "
                                       "has none, or not one prompt set per sample")
        _verify_texts(tm, tuple(prompts for _ in out.prompts), out.prompts, "class prompts")
    return replace(out, images=adv)


class Attack(AttackDeclaration):
    """Base class for attacks: subclasses set ``Params`` and implement ``threat_model`` and ``run``
    (the declared part, :class:`~mmeval.attacks.declared.AttackDeclaration`, may live in a light
    class of its own that the attack also subclasses).

    ``__call__`` validates the inputs, runs ``run`` under :func:`attack_mode` on a private copy of
    the images (so the caller's batch is never mutated), then :func:`verify_output`.
    """

    def run(self, model: VLModel, batch: Batch, objective: Objective,
            rng: BatchRandomLike) -> AttackOutput:
        raise NotImplementedError

    def __call__(self, model: VLModel, batch: Batch, objective: Objective,
                 rng: BatchRandomLike) -> AttackOutput:
        check_images(batch.images)
        private = replace(batch, images=batch.images.clone())
        with attack_mode(model):
            out = self.run(model, private, objective, rng)
        prompts = objective.prompts if isinstance(objective, PromptObjective) else None
        return verify_output(self.threat_model, batch, out, prompts)
