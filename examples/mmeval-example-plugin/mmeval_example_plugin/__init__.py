"""A third-party mmeval plugin: ``example/random-sign``, an image attack that moves every pixel by
+-eps with a random sign per pixel (a gradient-free baseline worth beating), registered through
the ``mmeval`` entry point and built on mmeval's public API only."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

import mmeval
from mmeval import Attack, AttackOutput, Params, ThreatModel


class RandomSignParams(Params):
    eps: float = Field(default=4 / 255, ge=0.0, le=1.0, description="Linf radius, [0, 1] pixels")


class RandomSign(Attack):
    """x + eps * s, s uniform in {-1, +1} per pixel (drawn from each sample's own stream)."""

    Params = RandomSignParams
    params: RandomSignParams
    objectives: ClassVar[tuple[str, ...] | None] = None  # needs no objective at all

    @property
    def threat_model(self) -> ThreatModel:
        return ThreatModel("image", "linf", self.params.eps)

    def run(self, model, batch, objective, rng) -> AttackOutput:
        x = batch.images
        sign = (rng.rand(*x.shape[1:]) < 0.5).to(x) * 2 - 1
        return AttackOutput(images=(x + self.params.eps * sign).clamp(0, 1))


@mmeval.hookimpl
def mmeval_register_attacks(registry) -> None:
    registry.add("example/random-sign", RandomSign,
                 description="random +-eps sign noise (a third-party example plugin)")
