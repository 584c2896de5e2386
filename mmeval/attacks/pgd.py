"""Reference projected gradient descent on the objective's loss (Madry et al., "Towards Deep
Learning Models Resistant to Adversarial Attacks", ICLR 2018), Linf and L2, in [0, 1] pixel space.

The L2 random start follows the TeCoA/MMCoA reference: a Gaussian direction scaled to a radius drawn
uniformly in [0, eps]. Per-sample losses are summed, so each sample's gradient is independent of
the batch it is in; gradients are taken w.r.t. the perturbation only.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field, model_validator

from ..protocols import BatchRandomLike, Objective, VLModel
from ..registry import Params
from ..types import AttackOutput, Batch, ThreatModel
from .base import Attack, project


class PGDParams(Params):
    eps: float = Field(default=4 / 255, ge=0.0, description="radius in [0, 1] pixel units")
    norm: Literal["linf", "l2"] = "linf"
    steps: int = Field(default=10, ge=0)
    step_size: float | None = Field(default=None, gt=0.0,
                                    description="default 2.5 * eps / steps")
    random_start: bool = True

    @model_validator(mode="after")
    def _linf_eps(self) -> PGDParams:
        if self.norm == "linf" and self.eps > 1.0:
            raise ValueError(f"a Linf eps above 1 is meaningless for [0, 1] images (got {self.eps}); "
                             "write eps in pixel units, e.g. 4/255")
        return self


class PGD(Attack):
    """Untargeted PGD maximizing the objective's per-sample loss; returns the last iterate."""

    Params = PGDParams
    uses_gradients: ClassVar[bool] = True
    params: PGDParams

    @property
    def threat_model(self) -> ThreatModel:
        return ThreatModel("image", self.params.norm, self.params.eps)

    def _step(self, grad: torch.Tensor, alpha: float) -> torch.Tensor:
        if self.params.norm == "linf":
            return alpha * grad.sign()
        norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
        return alpha * grad / norm

    def _init(self, x: torch.Tensor, rng: BatchRandomLike) -> torch.Tensor:
        p = self.params
        if not p.random_start:
            return x.clone()
        shape = tuple(x.shape[1:])
        if p.norm == "linf":
            delta = (2 * rng.rand(*shape) - 1) * p.eps
        else:
            direction = rng.randn(*shape)
            direction = direction / direction.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
            delta = direction * p.eps * rng.rand(1).view(-1, 1, 1, 1)
        return project(x, x + delta.to(x), p.norm, p.eps)

    def run(self, model: VLModel, batch: Batch, objective: Objective,
            rng: BatchRandomLike) -> AttackOutput:
        p = self.params
        x = batch.images
        if p.eps == 0:
            return AttackOutput(images=x.clone())
        alpha = p.step_size if p.step_size is not None else 2.5 * p.eps / max(p.steps, 1)
        adv = self._init(x, rng)
        for _ in range(p.steps):
            adv.requires_grad_(True)
            loss = objective.loss(model, adv, batch).sum()
            (grad,) = torch.autograd.grad(loss, adv)
            with torch.no_grad():
                adv = project(x, adv + self._step(grad.float(), alpha), p.norm, p.eps)
        return AttackOutput(images=adv.detach())
