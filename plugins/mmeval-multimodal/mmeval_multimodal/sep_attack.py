"""Sep-Attack: an image attack and a text attack run independently and their outputs combined
(the "vanilla" multimodal baseline of Co-Attack, Zhang et al., ACM MM 2022, and SGA, Lu et al.,
ICCV 2023; MMCoA's "multimodal attack", Zhou et al. 2024). For zero-shot classification the image
is attacked against the clean class prompts and scored against the adversarial ones.
"""

from __future__ import annotations

from typing import Any

from mmeval import AttackOutput, Batch, ComponentRef, build_stage, stage

from .joint import TEXT_STAGE, CompatParams, JointAttack, joined

#: SGA's PGD baseline: eps 2/255, 10 steps of 0.5/255
IMAGE_STAGE = {"name": "mmeval/pgd", "params": {"eps": 2 / 255, "steps": 10, "step_size": 0.5 / 255}}


class SepAttackParams(CompatParams):
    image_attack: ComponentRef = stage(IMAGE_STAGE, modality="image",
                                       description="the registered image attack")
    text_attack: ComponentRef = stage(TEXT_STAGE, modality="text",
                                      description="the registered text attack")


class SepAttack(JointAttack):
    """The image stage never sees the adversarial text, nor the text stage the adversarial image."""

    Params = SepAttackParams
    params: SepAttackParams

    def __init__(self, params: SepAttackParams | None = None) -> None:
        super().__init__(params)
        self.image_stage = build_stage(self.params.image_attack)

    def image_budget(self) -> tuple[str, float]:
        tm = self.image_stage.threat_model
        return tm.norm, tm.eps

    def run(self, model: Any, batch: Batch, objective: Any, rng: Any) -> AttackOutput:
        text = self.text_stage(model, batch, objective, rng)
        image = self.image_stage(model, batch, objective, rng)
        return joined(image.images, text)
