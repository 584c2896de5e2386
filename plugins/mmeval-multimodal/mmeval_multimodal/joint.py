"""What the joint image+text attacks share: a text stage named in the params (any registered text
attack, by default the Co-Attack/SGA/MMCoA BERT-Attack variant), a threat model joining the text
stage's word budget with the image budget, and the texts each sample is paired with — its
(adversarial) captions for retrieval, the (adversarial) prompt of its true class for zero-shot
classification. Embedding-space losses are computed in fp32.
"""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn.functional as F

from mmeval import (
    Attack,
    AttackOutput,
    Batch,
    Objective,
    Params,
    PromptObjective,
    build_stage,
)

from .declared import JointDeclared


class JointAttack(JointDeclared, Attack):
    """Base of the image+text attacks: builds the text stage once; the joint threat model (Linf
    ``eps`` ball on the image, the text stage's word budget on the texts) is declared."""

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        self.text_stage = build_stage(self.params.text_attack)


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


def joined(signal: torch.Tensor, text: AttackOutput, modality: str = "image",
           **info: list[Any]) -> AttackOutput:
    """The joint output: the adversarial signal (images, or audio) with the text stage's texts or
    prompts and records."""
    return AttackOutput.of(modality, signal, texts=text.texts, prompts=text.prompts,
                           info={**text.info, **info})
