"""What the joint image+text attacks share: a text stage named in the params (any registered text
attack, by default the Co-Attack/SGA/MMCoA BERT-Attack variant), a threat model joining the text
stage's word budget with the image budget, and the texts each sample is paired with — its
(adversarial) captions for retrieval, the (adversarial) prompt of its true class for zero-shot
classification. Embedding-space losses are computed in fp32.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, cast

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator

from mmeval import (
    Attack,
    AttackOutput,
    Batch,
    ComponentRef,
    Objective,
    Params,
    PromptObjective,
    ThreatModel,
    build_stage,
    stage,
    stage_params,
)

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


class JointAttack(Attack):
    """Base of the image+text attacks: builds the text stage once and declares the joint threat
    model (Linf ``eps`` ball on the image, the text stage's word budget on the texts)."""

    modality: ClassVar = "image+text"
    objectives: ClassVar[tuple[str, ...] | None] = ("classification", "retrieval")
    uses_gradients: ClassVar[bool] = True

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        self.text_stage = build_stage(self.params.text_attack)

    def image_budget(self) -> tuple[str, float]:
        """(norm, eps) of the image side."""
        return "linf", self.params.eps

    @property
    def language_model(self) -> str | None:
        return self.text_stage.language_model

    @property
    def threat_model(self) -> ThreatModel:
        norm, eps = self.image_budget()
        text = self.text_stage.threat_model
        return ThreatModel("image+text", norm, eps, text.max_words,  # type: ignore[arg-type]
                           text.max_word_fraction)


def paired_texts(model: Any, batch: Batch, objective: Objective,
                 text: AttackOutput) -> list[list[str]]:
    """The texts each sample's image is paired with, after the text stage ``text``."""
    if objective.kind == "retrieval":
        return [list(t) for t in (text.texts or batch.texts)]
    prompted = cast(PromptObjective, objective)  # classification: over class prompts
    prompts = text.prompts or (prompted.prompts,) * len(batch)
    labels = prompted.labels(model, batch).tolist()
    return [[prompts[i][y]] for i, y in enumerate(labels)]


def embed_sets(model: Any, sets: list[list[str]]) -> tuple[torch.Tensor, torch.Tensor]:
    """fp32 embeddings of every text of ``sets`` (no gradient) and the sample each belongs to."""
    flat = [t for texts in sets for t in texts]
    owner = torch.tensor([i for i, texts in enumerate(sets) for _ in texts])
    with torch.no_grad():
        emb = model.encode_text(flat).float()
    return emb, owner.to(emb.device)


def per_sample(values: torch.Tensor, owner: torch.Tensor, n: int, mean: bool = False) -> torch.Tensor:
    """Sum (or mean) of per-text ``values`` over each sample's texts: ``[n]``."""
    out = torch.zeros(n, device=values.device, dtype=values.dtype).index_add(0, owner, values)
    if mean:
        out = out / torch.bincount(owner, minlength=n).clamp_min(1).to(values)
    return out


def kl(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """Row-wise KL(p || q) from log-probabilities over embedding dimensions (Co-Attack's loss)."""
    return (log_p.exp() * (log_p - log_q)).sum(dim=-1)


def log_softmax32(emb: torch.Tensor) -> torch.Tensor:
    return F.log_softmax(emb.float(), dim=-1)


def joined(images: torch.Tensor, text: AttackOutput, **info: list[Any]) -> AttackOutput:
    """The joint output: adversarial images with the text stage's texts or prompts and records."""
    return AttackOutput(images=images, texts=text.texts, prompts=text.prompts,
                        info={**text.info, **info})
