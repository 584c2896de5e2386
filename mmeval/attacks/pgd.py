"""Reference projected gradient descent on the objective's loss (Madry et al., "Towards Deep
Learning Models Resistant to Adversarial Attacks", ICLR 2018), Linf and L2, in [0, 1] pixel space.

The L2 random start follows the TeCoA/MMCoA reference: a Gaussian direction scaled to a radius drawn
uniformly in [0, eps]. Per-sample losses are summed, so each sample's gradient is independent of
the batch it is in; gradients are taken w.r.t. the perturbation only.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..protocols import BatchRandomLike, Objective, VLModel
from ..types import AttackOutput, Batch, Norm
from .base import Attack, project
from .declared import PGDDeclared


def random_start(x: torch.Tensor, rng: BatchRandomLike, norm: Norm, eps: float,
                 one_sided: bool = False, projected: bool = True) -> torch.Tensor:
    """A random point of the ``norm`` ball around ``x``, projected into [0, 1] unless not
    ``projected`` (the Co-Attack reference takes its first gradient there). Linf: uniform in
    [-eps, eps], or in [0, eps] with ``one_sided`` (the Co-Attack reference's start)."""
    shape = tuple(x.shape[1:])
    if norm == "linf":
        u = rng.rand(*shape)
        delta = (u if one_sided else 2 * u - 1) * eps
    else:
        direction = rng.randn(*shape)
        direction = direction / direction.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
        delta = direction * eps * rng.rand(1).view(-1, 1, 1, 1)
    return project(x, x + delta.to(x), norm, eps) if projected else x + delta.to(x)


def _unit(v: torch.Tensor, norm: Norm) -> torch.Tensor:
    if norm == "linf":
        return v.sign()
    return v / v.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (v.dim() - 1)))


def pgd_loop(x: torch.Tensor, start: torch.Tensor, loss: Callable[[torch.Tensor], torch.Tensor],
             norm: Norm, eps: float, steps: int, step_size: float,
             momentum: float = 0.0) -> torch.Tensor:
    """``steps`` ascent steps on ``loss(adv) -> [B]`` (summed, so samples stay independent) from
    ``start``, each projected onto the ``norm`` ball around ``x`` and [0, 1]; the last iterate.
    Gradients are taken w.r.t. the input only. With ``momentum`` the step direction is the
    normalized ``momentum * previous + normalized gradient`` (FARE's inner attack, Schlarmann et
    al., ICML 2024); as there, the stored velocity is normalized. Under Linf that leaves a step
    ``sign(g)`` wherever the gradient component is non-zero (``sign(momentum * sign + sign(g))``
    is ``sign(g)`` for momentum < 1), but where it is exactly zero the previous direction carries
    on: on the zoo CLIP 5-8% of pixels end elsewhere than without momentum. L2 steps feel it
    everywhere."""
    adv = start.detach()
    velocity = torch.zeros_like(adv, dtype=torch.float32)
    for _ in range(steps):
        adv.requires_grad_(True)
        (grad,) = torch.autograd.grad(loss(adv).sum(), adv)
        # a sample whose loss is not finite stays put (the runner flags its non-finite output)
        direction = _unit(torch.nan_to_num(grad.float(), nan=0.0, posinf=0.0, neginf=0.0), norm)
        if momentum:
            velocity = direction = _unit(momentum * velocity + direction, norm)
        with torch.no_grad():
            adv = project(x, adv + (step_size * direction).to(adv), norm, eps)
    return adv.detach()


class PGD(PGDDeclared, Attack):
    """Untargeted PGD maximizing the objective's per-sample loss; returns the last iterate.
    Subclasses change what is maximized by overriding :meth:`loss`."""

    def loss(self, model: VLModel, batch: Batch,
             objective: Objective) -> Callable[[torch.Tensor], torch.Tensor]:
        """``images -> [B]`` losses the ascent maximizes: the objective's, by default."""
        return lambda images: objective.loss(model, images, batch)

    def run(self, model: VLModel, batch: Batch, objective: Objective,
            rng: BatchRandomLike) -> AttackOutput:
        p = self.params
        x = batch.images
        if p.eps == 0:
            return AttackOutput(images=x.clone())
        alpha = p.step_size if p.step_size is not None else 2.5 * p.eps / max(p.steps, 1)
        start = random_start(x, rng, p.norm, p.eps) if p.random_start else x.clone()
        if p.early_stop:
            return AttackOutput(images=self._early_stopping(model, batch, objective, start, alpha))
        adv = pgd_loop(x, start, self.loss(model, batch, objective), p.norm, p.eps, p.steps, alpha,
                       p.momentum)
        return AttackOutput(images=adv)

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
            adv[active] = pgd_loop(sub.images, adv[active], self.loss(model, sub, objective),
                                   p.norm, p.eps, 1, alpha)
        return adv
