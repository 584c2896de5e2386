"""Reference projected gradient descent on the objective's loss (Madry et al., "Towards Deep
Learning Models Resistant to Adversarial Attacks", ICLR 2018), Linf and L2, in the signal's own
space: [0, 1] pixels, or [-1, 1] waveforms (the white-box audio setting of Carlini & Wagner,
"Audio Adversarial Examples", 2018, with an L-inf budget and optionally an SNR floor).

The L2 random start follows the TeCoA/MMCoA reference: a Gaussian direction scaled to a radius drawn
uniformly in [0, eps]. Per-sample losses are summed, so each sample's gradient is independent of
the batch it is in; gradients are taken w.r.t. the perturbation only.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..compilation import CUDA_GRAPH_MODES, compiled_step, step_mode
from ..protocols import BatchRandomLike, Objective, VLModel
from ..types import BOUNDS, AttackOutput, Batch, Norm
from .base import Attack, per_sample, project
from .declared import PGDDeclared


def random_start(x: torch.Tensor, rng: BatchRandomLike, norm: Norm, eps: float,
                 one_sided: bool = False, projected: bool = True,
                 bounds: tuple[float, float] = (0.0, 1.0), snr: float | None = None) -> torch.Tensor:
    """A random point of the ``norm`` ball around ``x``, projected into ``bounds`` (and the
    ``snr`` floor, dB) unless not ``projected`` (the Co-Attack reference takes its first gradient
    there). Linf: uniform in [-eps, eps], or in [0, eps] with ``one_sided`` (the Co-Attack
    reference's start)."""
    shape = tuple(x.shape[1:])
    if norm == "linf":
        u = rng.rand(*shape)
        delta = (u if one_sided else 2 * u - 1) * eps
    else:
        direction = rng.randn(*shape)
        direction = direction / per_sample(direction.flatten(1).norm(dim=1).clamp_min(1e-12),
                                           direction)
        delta = direction * eps * per_sample(rng.rand(1), direction)
    if not projected:
        return x + delta.to(x)
    return project(x, x + delta.to(x), norm, eps, bounds, snr)


def _unit(v: torch.Tensor, norm: Norm) -> torch.Tensor:
    if norm == "linf":
        return v.sign()
    return v / per_sample(v.flatten(1).norm(dim=1).clamp_min(1e-12), v)


def pgd_loop(x: torch.Tensor, start: torch.Tensor, loss: Callable[[torch.Tensor], torch.Tensor],
             norm: Norm, eps: float, steps: int, step_size: float,
             momentum: float = 0.0, bounds: tuple[float, float] = (0.0, 1.0),
             snr: float | None = None) -> torch.Tensor:
    """``steps`` ascent steps on ``loss(adv) -> [B]`` (summed, so samples stay independent) from
    ``start``, each projected onto the ``norm`` ball around ``x``, ``bounds`` and, with ``snr``,
    the L2 ball that keeps that signal-to-noise ratio (dB); the last iterate.
    Gradients are taken w.r.t. the input only. With ``momentum`` the step direction is the
    normalized ``momentum * previous + normalized gradient`` (FARE's inner attack, Schlarmann et
    al., ICML 2024); as there, the stored velocity is normalized. Under Linf that leaves a step
    ``sign(g)`` wherever the gradient component is non-zero (``sign(momentum * sign + sign(g))``
    is ``sign(g)`` for momentum < 1), but where it is exactly zero the previous direction carries
    on: on the zoo CLIP 5-8% of pixels end elsewhere than without momentum. L2 steps feel it
    everywhere."""
    adv = start.detach()
    velocity = torch.zeros_like(adv, dtype=torch.float32)
    if mode := step_mode():
        step = compiled_step(_ascent_step, mode)
        graphs = mode in CUDA_GRAPH_MODES and adv.is_cuda
        # eps, step size and SNR enter as tensors, so one graph serves every value of a sweep
        eps_t, size_t, snr_t = (None if v is None else torch.full((), v, device=adv.device)
                                for v in (eps, step_size, snr))
        for _ in range(steps):
            if graphs:  # the replay reuses its output buffers: keep this step's result apart
                torch.compiler.cudagraph_mark_step_begin()
            adv, velocity = step(loss, x, adv, velocity, norm, eps_t, size_t, momentum, bounds,
                                 snr_t)
            if graphs:
                adv, velocity = adv.clone(), velocity.clone()
        return adv.detach()
    for _ in range(steps):
        adv.requires_grad_(True)
        (grad,) = torch.autograd.grad(loss(adv).sum(), adv)
        direction, velocity = _direction(grad, velocity, norm, momentum)
        with torch.no_grad():
            adv = project(x, adv + (step_size * direction).to(adv), norm, eps, bounds, snr)
    return adv.detach()


def _direction(grad: torch.Tensor, velocity: torch.Tensor, norm: Norm,
               momentum: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The step direction for ``grad`` and the velocity carried to the next step."""
    # a sample whose loss is not finite stays put (the runner flags its non-finite output)
    direction = _unit(torch.nan_to_num(grad.float(), nan=0.0, posinf=0.0, neginf=0.0), norm)
    if momentum:
        velocity = direction = _unit(momentum * velocity + direction, norm)
    return direction, velocity


def _ascent_step(loss: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                 adv: torch.Tensor, velocity: torch.Tensor, norm: Norm, eps: torch.Tensor,
                 step_size: torch.Tensor, momentum: float, bounds: tuple[float, float],
                 snr: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of :func:`pgd_loop` as a pure function (what :func:`compiled_step` compiles into
    one graph): the input gradient by ``torch.func.grad``, the update, the projection."""
    grad = torch.func.grad(lambda a: loss(a).sum())(adv)
    direction, velocity = _direction(grad, velocity, norm, momentum)
    return project(x, adv + (step_size * direction).to(adv), norm, eps, bounds, snr), velocity


class PGD(PGDDeclared, Attack):
    """Untargeted PGD maximizing the objective's per-sample loss; returns the last iterate.
    Subclasses change what is maximized by overriding :meth:`loss`."""

    def loss(self, model: VLModel, batch: Batch,
             objective: Objective) -> Callable[[torch.Tensor], torch.Tensor]:
        """``signal -> [B]`` losses the ascent maximizes: the objective's, by default."""
        return lambda signal: objective.loss(model, signal, batch)

    def run(self, model: VLModel, batch: Batch, objective: Objective,
            rng: BatchRandomLike) -> AttackOutput:
        p = self.params
        x = batch.signal
        if p.eps == 0:
            return AttackOutput.of(p.modality, x.clone())
        alpha = p.step_size if p.step_size is not None else 2.5 * p.eps / max(p.steps, 1)
        bounds = BOUNDS[p.modality]
        start = (random_start(x, rng, p.norm, p.eps, bounds=bounds, snr=p.snr_db)
                 if p.random_start else x.clone())
        if p.early_stop:
            return AttackOutput.of(p.modality,
                                   self._early_stopping(model, batch, objective, start, alpha))
        adv = pgd_loop(x, start, self.loss(model, batch, objective), p.norm, p.eps, p.steps, alpha,
                       p.momentum, bounds, p.snr_db)
        return AttackOutput.of(p.modality, adv)

    def _early_stopping(self, model: VLModel, batch: Batch, objective: Objective,
                        start: torch.Tensor, alpha: float) -> torch.Tensor:
        """PGD that steps only the samples not yet fooled, on the sub-batch they form; a fooled
        sample keeps its first successful iterate."""
        p = self.params
        adv = start.detach().clone()
        active = torch.arange(len(batch), device=adv.device)
        for _ in range(p.steps):
            sub = batch.subset(active)
            with torch.no_grad():
                fooled = objective.is_success(model, adv[active], sub).to(active.device)
            if fooled.all():
                break
            active, sub = active[~fooled], sub.subset(torch.nonzero(~fooled).flatten())
            adv[active] = pgd_loop(sub.signal, adv[active], self.loss(model, sub, objective),
                                   p.norm, p.eps, 1, alpha, bounds=BOUNDS[p.modality],
                                   snr=p.snr_db)
        return adv
