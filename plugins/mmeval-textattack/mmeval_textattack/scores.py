"""Goals as scores of candidate text embeddings (higher = better for the attacker), in fp32."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Scorer = Callable[[torch.Tensor], torch.Tensor]  # [N, D] embeddings -> [N] scores


def kl_from(clean: torch.Tensor) -> Scorer:
    """KL(softmax(clean) || softmax(candidate)) over embedding dimensions (Co-Attack / MMCoA)."""
    log_p = F.log_softmax(clean.float(), dim=-1)

    def score(emb: torch.Tensor) -> torch.Tensor:
        log_q = F.log_softmax(emb.float(), dim=-1)
        return (log_p.exp() * (log_p - log_q)).sum(dim=-1)

    return score


def away_from(image: torch.Tensor) -> Scorer:
    """Negative cosine to the paired image embedding (SGA's text goal; retrieval captions)."""
    image = F.normalize(image.float(), dim=-1)

    def score(emb: torch.Tensor) -> torch.Tensor:
        return -(F.normalize(emb.float(), dim=-1) @ image)

    return score


def margin_against(image: torch.Tensor, others: torch.Tensor, scale: float) -> tuple[Scorer, Scorer]:
    """For the true-class prompt of one image: score = max other-class logit minus the true-class
    logit (the attacker wants it > 0); success when it is > 0 (the prediction flips)."""
    image = image.float()
    best_other = scale * (others.float() @ image).max()

    def score(emb: torch.Tensor) -> torch.Tensor:
        return best_other - scale * (emb.float() @ image)

    return score, lambda emb: score(emb) > 0
