"""What the joint attacks and AdvCLIP declare, readable without torch: their params (with the
default stages), flags and threat models. A joint attack's threat model joins its image budget
with its text stage's declared word budget (:func:`mmeval.declare_stage`), so planning builds no
stage. The attacks in ``co_attack``, ``sga``, ``sep_attack`` and ``advclip`` subclass these."""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from mmeval import (
    ADDED,
    AttackDeclaration,
    ComponentRef,
    Params,
    SignalModality,
    ThreatModel,
    declare_stage,
    stage,
    stage_params,
)
from mmeval import component as component_field

TEXT_STAGE = "textattack/bert-attack-vlm"


class CompatParams(Params):
    """``compat``: ``paper`` (default) or ``reference``, which reproduces the official code and
    runs the text stage in its own ``reference`` mode (the stage must have a ``compat`` param)."""

    compat: Literal["paper", "reference"] = Field(
        default="paper", description="paper: the papers' algorithm; reference: exactly the "
        "official code (text stage included, in its reference mode)")

    @model_validator(mode="before")
    @classmethod
    def _text_stage_mode(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("compat") != "reference":
            return data
        given = data.get("text_attack")
        if given is None:
            given = cls.model_fields["text_attack"].get_default(call_default_factory=True)
        ref = ComponentRef.model_validate(given)
        takes = stage_params(ref)
        if takes is not None and "compat" not in takes.model_fields:
            raise ValueError(f"compat 'reference' needs a text stage with a reference mode; "
                             f"'{ref.name}' has none (no compat param): use "
                             f"{TEXT_STAGE} or compat 'paper'")
        if ref.params.get("compat", "reference") != "reference":
            raise ValueError("compat 'reference' runs the text stage in its reference mode; drop "
                             f"text_attack.params.compat ('{ref.params['compat']}') or set it to "
                             "'reference'")
        return {**data, "text_attack": ref.model_copy(
            update={"params": {**ref.params, "compat": "reference"}})}


class JointParams(CompatParams):
    eps: float = Field(default=2 / 255, ge=0.0, le=1.0, description="Linf radius in [0, 1] pixels")
    steps: int = Field(default=10, ge=0, description="image attack iterations")
    text_attack: ComponentRef = stage(TEXT_STAGE, modality="text",
                                      description="the registered text attack of the text stage")


class JointDeclared(AttackDeclaration):
    """An image+text attack: a Linf ``eps`` ball on the image, the text stage's word budget."""

    modality: ClassVar = "image+text"
    objectives: ClassVar[tuple[str, ...] | None] = ("classification", "retrieval")
    uses_gradients: ClassVar[bool] = True

    @property
    def signal(self) -> str:
        """The signal the attack perturbs beside the texts."""
        return "image"

    def image_budget(self) -> tuple[str | None, float | None]:
        """(norm, eps) of the image side."""
        return "linf", self.params.eps

    @cached_property
    def text_declaration(self) -> Any:
        """The text stage's declaration, resolved once (the threat model is read every batch)."""
        return declare_stage(self.params.text_attack)

    @property
    def language_model(self) -> str | None:
        return self.text_declaration.language_model

    @property
    def threat_model(self) -> ThreatModel:
        norm, eps = self.image_budget()
        text = self.text_declaration.threat_model
        return ThreatModel(f"{self.signal}+text", norm, eps,  # type: ignore[arg-type]
                           text.max_words, text.max_word_fraction)


#: Co-Attack's text stage pushes each caption away from its own clean embedding by KL (its paper
#: and code); SGA's goal (away from the paired image) is not Co-Attack's
CO_ATTACK_TEXT = {"name": TEXT_STAGE, "params": {"caption_goal": "kl"}}


class CoAttackParams(JointParams):
    text_attack: ComponentRef = stage(CO_ATTACK_TEXT, modality="text",
                                      description="the registered text attack of the text stage "
                                      "(default: BERT-Attack with Co-Attack's KL caption goal)")
    alpha: float = Field(default=3.0, ge=0.0, description="weight of the adversarial-text term")
    step_size: float | None = Field(default=None, gt=0.0, description="default 1.25 * eps / steps")
    init: Literal["uniform", "one-sided", "none"] = Field(
        default="uniform", description="random start: U(-eps, eps), the reference's eps*U(0, 1), or "
        "none (compat reference: the reference's, first gradient unclamped)")
    modality: SignalModality = Field(
        default="image", json_schema_extra=ADDED, description="the signal attacked with the "
        "texts: image, or audio (eps in [-1, 1] amplitude units; Co-Attack's scheme with an "
        "audio stage)")

    @model_validator(mode="after")
    def _reference_start(self) -> CoAttackParams:
        if self.compat == "reference" and "init" in self.model_fields_set and self.init != "one-sided":
            raise ValueError(f"init '{self.init}' is not the reference's start; compat 'reference' "
                             "starts one-sided: drop init or set it to 'one-sided'")
        return self


class CoAttackDeclared(JointDeclared):
    """Co-Attack (Zhang et al., ACM MM 2022): text first, then the image (or audio) guided by it."""

    Params = CoAttackParams
    params: CoAttackParams

    @property
    def signal(self) -> str:
        return self.params.modality


#: SGA's text stage: the BERT-Attack variant with its image-guided goal, 77 tokens for CLIP
SGA_TEXT = {"name": TEXT_STAGE, "params": {"max_length": 77}}


class SGAParams(JointParams):
    text_attack: ComponentRef = stage(SGA_TEXT, modality="text",
                                      description="the registered text attack of the text stage "
                                      "(default: BERT-Attack, image-guided, 77 tokens)")
    step_size: float = Field(default=0.5 / 255, gt=0.0, description="PGD step")
    scales: list[float] = Field(default=[0.5, 0.75, 1.25, 1.5],
                                description="resize factors of the image set ([]: single view)")
    sigma: float = Field(default=0.05, ge=0.0, description="Gaussian noise std of the scaled views")


class SGADeclared(JointDeclared):
    """SGA (Lu et al., ICCV 2023): set-level guidance, scale-invariant image set."""

    Params = SGAParams
    params: SGAParams


#: SGA's PGD baseline: eps 2/255, 10 steps of 0.5/255
IMAGE_STAGE = {"name": "mmeval/pgd", "params": {"eps": 2 / 255, "steps": 10, "step_size": 0.5 / 255}}


class SepAttackParams(CompatParams):
    image_attack: ComponentRef = stage(IMAGE_STAGE, modality="image",
                                       description="the registered image attack")
    text_attack: ComponentRef = stage(TEXT_STAGE, modality="text",
                                      description="the registered text attack")


class SepAttackDeclared(JointDeclared):
    """Sep-Attack: an image attack and a text attack run independently."""

    Params = SepAttackParams
    params: SepAttackParams

    @cached_property
    def image_declaration(self) -> Any:
        """The image stage's declaration, resolved once."""
        return declare_stage(self.params.image_attack)

    def image_budget(self) -> tuple[str | None, float | None]:
        tm = self.image_declaration.threat_model
        return tm.norm, tm.eps


class AdvCLIPParams(Params):
    train_dataset: ComponentRef = component_field(
        "dataset", {"name": "shapes", "params": {"n": 512, "seed": 7}},
        description="image-text pairs the patch is trained on (disjoint from the evaluation data)")
    patch_fraction: float = Field(default=0.03, gt=0.0, le=0.5, description="patch area / image area")
    epochs: int = Field(default=20, ge=1)
    batch_size: int = Field(default=16, ge=2)
    lr: float = Field(default=2e-4, gt=0.0)
    alpha: float = Field(default=10.0, ge=0.0, description="weight of the contrastive deviation")
    beta: float = Field(default=5.0, ge=0.0, description="weight of the image-text InfoNCE term")
    gamma: float = Field(default=5.0, ge=0.0, description="weight of the image-text topology term")
    delta: float = Field(default=1.0, ge=0.0, description="weight of the topology deviation")
    temperature: float = Field(default=0.1, gt=0.0)
    seed: int = Field(default=100, ge=0, description="initialisation, noise and data order")


class AdvCLIPDeclared(AttackDeclaration):
    """AdvCLIP (Zhou et al., ACM MM 2023): a universal patch, bounded in area, not in an Lp ball."""

    Params = AdvCLIPParams
    params: AdvCLIPParams
    objectives: ClassVar[tuple[str, ...] | None] = ("classification", "retrieval")
    uses_gradients: ClassVar[bool] = True
