"""What the defenses declare, readable without torch: their params (with the default inner
attacks), flags, and the adaptive attack's declaration. The defenses subclass these."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from mmeval import (
    ComponentRef,
    Params,
    PGDDeclared,
    PGDParams,
    WeightDefenseDeclared,
    WeightDefenseParams,
    component,
    stage,
)


class PairParams(WeightDefenseParams):
    texts: Literal["prompts", "captions"] = Field(
        default="prompts", description="pair each image with its class prompt or first caption")
    template: str = Field(default="This is a photo of a {}",
                          description="class prompt template (TeCoA/MMCoA)")


class FTStandardDeclared(WeightDefenseDeclared):
    """Clean contrastive fine-tuning of both encoders (MMCoA's baseline)."""

    Params = PairParams


#: TeCoA's training attack (README: --train_eps 1 --train_numsteps 2 --train_stepsize 1)
TECOA_ATTACK = {"name": "mmeval/pgd", "params": {"eps": 1 / 255, "steps": 2, "step_size": 1 / 255}}


class TeCoAParams(WeightDefenseParams):
    template: str = Field(default="This is a photo of a {}", description="class prompt template")
    image_attack: ComponentRef = stage(TECOA_ATTACK, modality="image",
                                       description="the inner attack, on the zero-shot CE")


class TeCoADeclared(WeightDefenseDeclared):
    """TeCoA (Mao et al., ICLR 2023): the image encoder, CE over class prompts on PGD images."""

    Params = TeCoAParams


MMCOA_ATTACK = {"name": "mmeval/pgd", "params": {"eps": 1 / 255, "steps": 10, "step_size": 1 / 255}}
TEXT_ATTACK = {"name": "textattack/bert-attack-vlm", "params": {"caption_goal": "kl"}}


class MMCoAParams(PairParams):
    image_weight: float = Field(default=0.5, ge=0.0, description="lambda of L(adv image, text)")
    text_weight: float = Field(default=0.5, ge=0.0, description="lambda of L(image, adv text)")
    image_attack: ComponentRef = stage(MMCOA_ATTACK, modality="image",
                                       description="inner image attack, on the zero-shot CE")
    text_attack: ComponentRef = stage(TEXT_ATTACK, modality="text",
                                      description="inner text attack on each paired text")


class MMCoADeclared(WeightDefenseDeclared):
    """MMCoA (Zhou et al., 2024): both encoders, adversarial image and adversarial text losses."""

    Params = MMCoAParams


FARE_ATTACK = {"name": "mmeval/pgd",
                "params": {"eps": 2 / 255, "steps": 10, "step_size": 1 / 255, "momentum": 0.9}}


class FAREParams(WeightDefenseParams):
    image_attack: ComponentRef = stage(FARE_ATTACK, modality="image",
                                       description="inner attack on the embedding distance "
                                       "(a loss-driven attack such as mmeval/pgd)")


class FAREDeclared(WeightDefenseDeclared):
    """FARE (Schlarmann et al., ICML 2024): unsupervised, embeddings held to the original's."""

    Params = FAREParams


class MATParams(WeightDefenseParams):
    image_attack: ComponentRef = stage(None, modality="image",
                                       description="the registered image attack on the in-batch "
                                       "matching loss (e.g. mmeval/pgd with its eps and steps)")
    text_attack: ComponentRef = stage(None, modality="text",
                                      description="the registered text attack on the captions")
    mat_plus: bool = Field(default=False, description="one-to-many pairs: several captions/image")
    captions_per_image: int | None = Field(default=None, ge=2,
                                           description="MAT+: captions per image (required then)")

    @model_validator(mode="after")
    def _plus(self) -> MATParams:
        if self.mat_plus and self.captions_per_image is None:
            raise ValueError("mat_plus=True needs captions_per_image")
        if not self.mat_plus and self.captions_per_image is not None:
            raise ValueError("captions_per_image applies to mat_plus=True only")
        return self


class MATDeclared(WeightDefenseDeclared):
    """MAT/MAT+ (Waseda et al.): image PGD + text attack, in-batch contrastive."""

    Params = MATParams


class MultiShieldParams(Params):
    classifier: ComponentRef = component(
        "model", "zoo/tiny-classifier-shapes",
        description="the image classifier g: a registered model with classify() over the task's classes")
    tau: float = Field(default=0.001, ge=0.0, description="cosine tolerance before rejecting")


class MultiShieldDeclared:
    """Multi-Shield (Villani et al., arXiv 2412.10353): abstains when classifier and CLIP disagree."""

    kind: ClassVar[str] = "detector"
    stochastic: ClassVar[bool] = False
    differentiable: ClassVar[bool] = True
    Params = MultiShieldParams


class AdaptivePGDParams(PGDParams):
    eps: float = Field(default=8 / 255, ge=0.0, description="radius in [0, 1] pixels (paper: 8/255)")
    steps: int = Field(default=100, ge=0)


class AdaptivePGDDeclared(PGDDeclared):
    """Adaptive PGD on CE(true) + CE(reject) against Multi-Shield (classification only)."""

    Params = AdaptivePGDParams
    params: AdaptivePGDParams
    objectives: ClassVar[tuple[str, ...] | None] = ("classification",)
    adaptive: ClassVar[bool] = True
