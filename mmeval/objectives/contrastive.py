"""The CLIP contrastive loss (Radford et al., ICML 2021) and in-batch image-text matching as an
objective: what adversarial fine-tuning (MMCoA, Zhou et al. 2024; MAT, Waseda et al., WACV 2026)
attacks and trains on. Texts may outnumber images (several captions per image, MAT+'s one-to-many
pairs): ``owner[j]`` is the image text ``j`` belongs to."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from ..protocols import Dataset, VLModel
from ..types import Batch, Outcome
from .signals import encode_signal


def text_owners(batch: Batch) -> torch.Tensor:
    """``[T]`` index of the sample each of the batch's texts (flattened in order) belongs to."""
    return torch.tensor([i for i, texts in enumerate(batch.texts) for _ in texts],
                        device=batch.signal.device)


def image_to_text_loss(logits: torch.Tensor, owner: torch.Tensor) -> torch.Tensor:
    """``[B]`` per-image loss over ``logits`` ``[B, T]``: -log of the softmax mass on the image's own
    texts (cross-entropy when each image owns one text)."""
    positive = owner.view(1, -1) == torch.arange(logits.shape[0], device=logits.device).view(-1, 1)
    log_p = F.log_softmax(logits.float(), dim=1)
    return -torch.logsumexp(log_p.masked_fill(~positive, float("-inf")), dim=1)


def contrastive_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, scale: torch.Tensor | float,
                     owner: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric in-batch InfoNCE, in fp32: the mean of the image->text loss over images and the
    text->image cross-entropy over texts. ``owner`` defaults to one text per image."""
    if owner is None:
        owner = torch.arange(image_emb.shape[0], device=image_emb.device)
    logits = scale * image_emb.float() @ text_emb.float().T
    return (image_to_text_loss(logits, owner).mean() + F.cross_entropy(logits.T, owner)) / 2


class InBatchMatching:
    """Image-text (or audio-text: the batch's signal) matching within a batch (kind ``retrieval``:
    text attacks perturb the batch's captions). The signal attacker maximizes each sample's
    signal->text contrastive loss against every text of the batch; a sample is correct when its
    best-matching text is one of its own."""

    kind: ClassVar[str] = "retrieval"

    def __init__(self) -> None:
        # (batch, model, text embeddings): an attack calls loss() once per step on one batch
        self._texts: tuple[Batch, VLModel, torch.Tensor] | None = None

    def prepare(self, model: VLModel, dataset: Dataset) -> None:
        """Nothing to cache per cell: the gallery is the batch itself."""

    def _text_embeddings(self, model: VLModel, batch: Batch) -> torch.Tensor:
        if self._texts is None or self._texts[0] is not batch or self._texts[1] is not model:
            with torch.no_grad():
                emb = model.encode_text([t for ts in batch.texts for t in ts]).float()
            self._texts = (batch, model, emb)
        return self._texts[2]

    def _logits(self, model: VLModel, signal: torch.Tensor, batch: Batch) -> torch.Tensor:
        text_emb = self._text_embeddings(model, batch)
        return model.logit_scale * encode_signal(model, batch.modality, signal).float() @ text_emb.T

    def loss(self, model: VLModel, signal: torch.Tensor, batch: Batch) -> torch.Tensor:
        return image_to_text_loss(self._logits(model, signal, batch), text_owners(batch))

    def evaluate(self, model: VLModel, signal: torch.Tensor, batch: Batch) -> Outcome:
        pred = self._logits(model, signal, batch).argmax(dim=1)
        return Outcome(pred, text_owners(batch)[pred] == torch.arange(len(batch), device=pred.device))

    def is_success(self, model: VLModel, signal: torch.Tensor, batch: Batch) -> torch.Tensor:
        return ~self.evaluate(model, signal, batch).correct
