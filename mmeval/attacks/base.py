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

from ..errors import DataError, IncompatibleComponentsError, ThreatModelViolation
from ..protocols import BatchRandomLike, Objective, PromptObjective, VLModel
from ..types import BOUNDS, FIELDS, AttackOutput, Batch, Norm, ThreatModel, signal_of
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


def check_signal(modality: str, x: torch.Tensor) -> None:
    """Inputs must be finite floats within the modality's bounds: images ``[B, C, H, W]`` in
    [0, 1], audio ``[B, T]`` waveforms in [-1, 1]."""
    lo_ok, hi_ok = BOUNDS[modality]
    dims, shape = (4, "[B, C, H, W]") if modality == "image" else (2, "[B, T]")
    if not torch.is_floating_point(x) or x.dim() != dims:
        raise DataError(f"{FIELDS[modality]} must be a float {shape} tensor, got {x.dtype} "
                        f"{tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise DataError(f"{FIELDS[modality]} contain NaN or inf")
    lo, hi = float(x.min()), float(x.max())
    if lo < lo_ok or hi > hi_ok:
        hint = (" — the model normalizes inside its forward, so pass raw pixels" if
                modality == "image" else " — pass full-scale float waveforms")
        raise DataError(f"{FIELDS[modality]} must lie in [{lo_ok:g}, {hi_ok:g}] (unnormalized); "
                        f"got range [{lo:.4g}, {hi:.4g}]{hint}")


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1)


def per_sample(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``[B]`` values ``v`` shaped to broadcast over ``like`` (``[B, ...]``)."""
    return v.view(-1, *([1] * (like.dim() - 1)))


def snr_radius(clean: torch.Tensor, snr_db: float | torch.Tensor) -> torch.Tensor:
    """``[B]`` the largest L2 norm a perturbation of each sample may have and keep a
    signal-to-noise ratio of ``snr_db`` decibels: ``||x||_2 * 10^(-snr_db / 20)``."""
    return _flat(clean).norm(dim=1) * 10 ** (-snr_db / 20)


def snr_db(clean: torch.Tensor, adv: torch.Tensor) -> torch.Tensor:
    """``[B]`` each sample's signal-to-noise ratio ``20 log10(||x||_2 / ||adv - x||_2)`` in dB
    (inf when unchanged)."""
    return 20 * torch.log10(_flat(clean).norm(dim=1) / _flat(adv - clean).norm(dim=1))


def project(clean: torch.Tensor, adv: torch.Tensor, norm: Norm, eps: float | torch.Tensor,
            bounds: tuple[float, float] = (0.0, 1.0),
            snr: float | torch.Tensor | None = None) -> torch.Tensor:
    """Clamp ``adv`` into ``bounds``, into the ``norm`` ball of radius ``eps`` around ``clean`` and,
    with ``snr``, into the L2 ball that keeps that signal-to-noise ratio (dB). Each step only
    shrinks the perturbation, so the result satisfies all three."""
    lo, hi = bounds
    delta = adv.clamp(lo, hi) - clean
    delta = delta.clamp(-eps, eps) if norm == "linf" else _shrink(delta, eps)
    if snr is not None:
        delta = _shrink(delta, snr_radius(clean, snr))
    return (clean + delta).clamp(lo, hi)


def _shrink(delta: torch.Tensor, radius: float | torch.Tensor) -> torch.Tensor:
    """``delta`` scaled down, per sample, to L2 norm at most ``radius`` (a number or ``[B]``)."""
    n = _flat(delta).norm(dim=1).clamp_min(1e-12)
    r = radius.to(n) if isinstance(radius, torch.Tensor) else radius
    return delta * per_sample((r / n).clamp(max=1.0), delta)


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


def _verify_signal(tm: ThreatModel, modality: str, clean: torch.Tensor,
                   adv: torch.Tensor | None) -> torch.Tensor:
    """``adv`` checked against ``tm`` and projected exactly onto it (``clean`` when None)."""
    name = FIELDS[modality]
    adv = clean if adv is None else adv
    if adv.shape != clean.shape:
        raise ThreatModelViolation(f"adversarial {name} have shape {tuple(adv.shape)}, "
                                   f"expected {tuple(clean.shape)}")
    adv = adv.detach().to(clean.dtype)
    if not torch.isfinite(adv).all():
        raise ThreatModelViolation(f"adversarial {name} contain NaN or inf")
    lo_ok, hi_ok = BOUNDS[modality]
    lo, hi = float(adv.min()), float(adv.max())
    if lo < lo_ok - TOLERANCE or hi > hi_ok + TOLERANCE:
        raise ThreatModelViolation(f"adversarial {name} leave [{lo_ok:g}, {hi_ok:g}]: range "
                                   f"[{lo:.6g}, {hi:.6g}]")
    delta = _flat(adv - clean)
    if signal_of(tm.modality) != modality:
        if delta.abs().max() > 0:
            raise ThreatModelViolation(f"threat model '{tm.modality}' forbids changing {name}")
        return adv
    if tm.norm is not None and tm.eps is not None:
        size = delta.abs().amax(dim=1) if tm.norm == "linf" else delta.norm(dim=1)
        worst = float(size.max()) if len(size) else 0.0
        if worst > tm.eps * (1 + TOLERANCE) + TOLERANCE:
            raise ThreatModelViolation(f"perturbation {tm.norm} norm {worst:.6g} exceeds eps "
                                       f"{tm.eps:.6g}")
    if tm.snr_db is not None:
        excess = delta.norm(dim=1) - snr_radius(clean, tm.snr_db) * (1 + TOLERANCE)
        if len(excess) and float(excess.max()) > TOLERANCE:
            worst = float(snr_db(clean, adv).min())
            raise ThreatModelViolation(f"perturbation SNR {worst:.4g} dB is below the "
                                       f"{tm.snr_db:.4g} dB budget")
    if tm.norm is None or tm.eps is None:
        return adv if tm.snr_db is None else project(clean, adv, "linf", math.inf,
                                                     BOUNDS[modality], tm.snr_db)
    return project(clean, adv, tm.norm, tm.eps, BOUNDS[modality], tm.snr_db)


def verify_output(tm: ThreatModel, batch: Batch, out: AttackOutput,
                  prompts: tuple[str, ...] | None = None) -> AttackOutput:
    """Check ``out`` against ``tm`` (``prompts``: the objective's clean class prompts) and return it
    with its signal projected exactly onto the threat model. Raises ThreatModelViolation if
    anything is off by more than round-off."""
    modality = batch.modality
    for other in FIELDS.keys() - {modality}:
        if out.signal(other) is not None:
            raise ThreatModelViolation(f"the attack returned {FIELDS[other]} for a batch of "
                                       f"{FIELDS[modality]}")
    adv = _verify_signal(tm, modality, batch.signal, out.signal(modality))
    _verify_texts(tm, batch.texts, out.texts, "captions")
    if out.prompts is not None:
        if prompts is None or len(out.prompts) != len(batch):
            raise ThreatModelViolation("the attack returned class prompts for an objective that "
                                       "has none, or not one prompt set per sample")
        _verify_texts(tm, tuple(prompts for _ in out.prompts), out.prompts, "class prompts")
    return replace(out, **{FIELDS[modality]: adv})


class Attack(AttackDeclaration):
    """Base class for attacks: subclasses set ``Params`` and implement ``threat_model`` and ``run``
    (the declared part, :class:`~mmeval.attacks.declared.AttackDeclaration`, may live in a light
    class of its own that the attack also subclasses).

    ``__call__`` validates the inputs, runs ``run`` under :func:`attack_mode` on a private copy of
    the batch's signal (images or audio; so the caller's batch is never mutated), then
    :func:`verify_output`. An attack whose threat model changes a signal other than the batch's
    is refused before it runs.
    """

    def run(self, model: VLModel, batch: Batch, objective: Objective,
            rng: BatchRandomLike) -> AttackOutput:
        raise NotImplementedError

    def __call__(self, model: VLModel, batch: Batch, objective: Objective,
                 rng: BatchRandomLike) -> AttackOutput:
        check_signal(batch.modality, batch.signal)
        wanted = signal_of(self.threat_model.modality)
        if wanted is not None and wanted != batch.modality:
            raise IncompatibleComponentsError(
                f"{type(self).__name__} perturbs {wanted}, but the batch carries "
                f"{FIELDS[batch.modality]}; pick the attack's modality={batch.modality!r}")
        private = batch.with_signal(batch.signal.clone())
        with attack_mode(model):
            out = self.run(model, private, objective, rng)
        prompts = objective.prompts if isinstance(objective, PromptObjective) else None
        return verify_output(self.threat_model, batch, out, prompts)
