"""Sep-Attack: an image attack and a text attack run independently and their outputs combined
(the "vanilla" multimodal baseline of Co-Attack, Zhang et al., ACM MM 2022, and SGA, Lu et al.,
ICCV 2023; MMCoA's "multimodal attack", Zhou et al. 2024). For zero-shot classification the image
is attacked against the clean class prompts and scored against the adversarial ones.
"""

from __future__ import annotations

from typing import Any

from mmeval import AttackOutput, Batch, build_stage

from .declared import SepAttackDeclared, SepAttackParams
from .joint import JointAttack, joined


class SepAttack(SepAttackDeclared, JointAttack):
    """The image stage never sees the adversarial text, nor the text stage the adversarial image."""

    def __init__(self, params: SepAttackParams | None = None) -> None:
        super().__init__(params)
        self.image_stage = build_stage(self.params.image_attack)

    def run(self, model: Any, batch: Batch, objective: Any, rng: Any) -> AttackOutput:
        text = self.text_stage(model, batch, objective, rng)
        image = self.image_stage(model, batch, objective, rng)
        return joined(image.images, text)
