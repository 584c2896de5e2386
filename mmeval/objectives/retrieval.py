"""Image-text (or audio-text) retrieval over a gallery (ALBEF-style evaluation used by Co-Attack
and SGA).

The gallery is every caption of every sample in the task. Image->text: an image is correct at K if
its best-ranked ground-truth caption is within the top K. The attacker maximizes
``-log P(ground-truth captions | image)`` under the softmax over the whole gallery, i.e. image->text
retrieval presented as classification over the gallery captions. Records keep each sample's
signal and caption embeddings (under ``image`` and ``text``; for audio too, as the retrieval
metrics read them), so TR@K and IR@K over the full gallery are computed from the journal. An audio
dataset's waveforms take the images' place, encoded by the model's audio tower.
"""

from __future__ import annotations

import torch

from ..errors import DataError
from ..protocols import Dataset, VLModel, dataset_modality
from ..registry import NoParams
from ..types import Batch, Outcome
from .declared import RetrievalDeclared
from .signals import encode_signal
from .texts import encode_texts


class Retrieval(RetrievalDeclared):
    """Gallery retrieval; ``prepare`` embeds every caption of the task once."""

    def __init__(self, params: NoParams | None = None) -> None:
        self.params = params or NoParams()
        self.index: dict[str, int] = {}
        self.owner = torch.empty(0, dtype=torch.long)
        self.captions: tuple[str, ...] = ()
        self.spans: list[tuple[int, int]] = []  # caption range of each gallery sample
        self.text_features: torch.Tensor | None = None
        self.modality = "image"

    def prepare(self, model: VLModel, dataset: Dataset) -> None:
        self.modality = dataset_modality(dataset)
        texts_of = getattr(dataset, "texts", None) or (lambda i: dataset[i].texts)
        sample_id = getattr(dataset, "sample_id", None) or (lambda i: dataset[i].sample_id)
        captions: list[str] = []
        owner: list[int] = []
        for i in range(len(dataset)):
            texts = texts_of(i)
            if not texts:
                raise DataError(f"retrieval needs captions; sample {sample_id(i)} has none")
            self.spans.append((len(captions), len(captions) + len(texts)))
            captions.extend(texts)
            owner.extend([i] * len(texts))
            self.index[sample_id(i)] = i
        self.captions, self.owner = tuple(captions), torch.tensor(owner)
        self.text_features = encode_texts(model, captions)

    def _rows(self, batch: Batch, device: torch.device) -> torch.Tensor:
        try:
            return torch.tensor([self.index[s] for s in batch.sample_ids], device=device)
        except KeyError as exc:
            raise DataError(f"sample {exc} is not in the retrieval gallery") from None

    def _logits(self, model: VLModel, signal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.text_features is None:
            raise RuntimeError("Retrieval.prepare() must run before use")
        feats = encode_signal(model, self.modality, signal).float()
        return feats, model.logit_scale * feats @ self.text_features.to(feats.device).T

    def logits(self, model: VLModel, signal: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` logits over every gallery caption: image->text retrieval as classification."""
        return self._logits(model, signal)[1]

    def labels(self, model: VLModel, batch: Batch) -> torch.Tensor:
        """``[B]`` the classification label of each image: its best-scoring ground-truth caption
        on the clean image (a single-label view of the multi-positive retrieval target)."""
        with torch.no_grad():
            logits = self.logits(model, batch.signal)
        rows = self._rows(batch, logits.device)
        gt = self.owner.to(logits.device)[None, :] == rows[:, None]
        return logits.masked_fill(~gt, float("-inf")).argmax(dim=1)

    def loss(self, model: VLModel, signal: torch.Tensor, batch: Batch) -> torch.Tensor:
        _, logits = self._logits(model, signal)
        rows = self._rows(batch, signal.device)
        gt = self.owner.to(signal.device)[None, :] == rows[:, None]
        positive = logits.masked_fill(~gt, float("-inf")).logsumexp(dim=1)
        return logits.logsumexp(dim=1) - positive

    def evaluate(self, model: VLModel, signal: torch.Tensor, batch: Batch) -> Outcome:
        feats, logits = self._logits(model, signal)
        rows = self._rows(batch, signal.device)
        owner = self.owner.to(signal.device)
        pred = owner[logits.argmax(dim=1)]
        spans = [self.spans[r] for r in rows.tolist()]
        texts = [self.text_features[a:b] for a, b in spans]
        if batch.texts and any(tuple(t) != self.captions[a:b]
                               for t, (a, b) in zip(batch.texts, spans, strict=True)):
            texts = [encode_texts(model, t) for t in batch.texts]  # attacked captions
        arrays = {"image": list(feats.detach().cpu()), "text": [t.cpu() for t in texts]}
        finite = torch.isfinite(logits).all(dim=1) & torch.isfinite(feats).all(dim=1)
        return Outcome(pred, pred == rows, arrays, finite=finite)

    def is_success(self, model: VLModel, signal: torch.Tensor, batch: Batch) -> torch.Tensor:
        return ~self.evaluate(model, signal, batch).correct
