"""Zero-shot classification (Radford et al., "Learning Transferable Visual Models From Natural
Language Supervision", ICML 2021): logits = logit_scale * cos(signal embedding, class embedding),
the signal an image or, for audio-text models (Elizalde et al., "CLAP: Learning Audio Concepts
from Natural Language Supervision", ICASSP 2023), a waveform.
A class embedding is its prompt's embedding, or with a prompt ensemble the mean of its prompts'
normalized embeddings, renormalized (CLIP's recipe, also CLIP_benchmark's).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import DataError
from ..protocols import Dataset, VLModel, dataset_modality
from ..types import Batch, Outcome
from .declared import ZeroShotDeclared, ZeroShotParams
from .signals import encode_signal
from .texts import encode_texts


class ZeroShotClassification(ZeroShotDeclared):
    """Untargeted zero-shot classification. The attacker maximizes the per-sample cross-entropy of
    the zero-shot logits; class embeddings are computed once in ``prepare`` and cached.

    ``prompts[c]`` is class ``c``'s first prompt: what a text attack on class prompts perturbs.
    With an ensemble, an adversarial prompt replaces that one prompt and the class embedding is
    re-averaged with the class's other (unchanged) prompts.

    The dataset's declared ``modality`` picks the tower that encodes the signal (image or audio).

    A model may post-process the zero-shot logits with ``zero_shot_head(images, logits)`` (a
    detector appends a reject class: index C, counted wrong, journaled as ``rejected``); a plain
    :class:`~mmeval.protocols.ImageClassifier` (no text side) is scored by its own logits."""

    def __init__(self, params: ZeroShotParams | None = None) -> None:
        self.params = params or ZeroShotParams()
        self.class_names: tuple[str, ...] = ()
        self.prompts: tuple[str, ...] = ()
        self.ensembles: tuple[tuple[str, ...], ...] = ()
        self.text_features: torch.Tensor | None = None
        self._rest: torch.Tensor | None = None  # per class: sum of its other prompts' embeddings
        self._prompt_cache: dict[str, torch.Tensor] = {}
        self._classifier = False
        self.modality = "image"

    def prepare(self, model: VLModel, dataset: Dataset) -> None:
        names = getattr(dataset, "class_names", None)
        if not names:
            raise DataError("zero-shot classification needs a dataset with class_names")
        self.class_names = tuple(names)
        self.modality = dataset_modality(dataset)
        self.ensembles = tuple(self.params.prompts_for(self.class_names, dataset))
        self.prompts = tuple(e[0] for e in self.ensembles)
        if "text" not in model.capabilities and hasattr(model, "classify"):
            if tuple(model.class_names) != self.class_names:
                raise DataError(f"the classifier's classes {list(model.class_names)} are not the "
                                f"dataset's {list(self.class_names)}")
            self.text_features = None
            self._classifier = True
            return
        self._classifier = False
        flat = list(dict.fromkeys(p for e in self.ensembles for p in e))
        self._prompt_cache = dict(zip(flat, encode_texts(model, flat), strict=True))
        first = torch.stack([self._prompt_cache[p] for p in self.prompts])
        if all(len(e) == 1 for e in self.ensembles):
            self._rest, self.text_features = None, first
            return
        self._rest = torch.stack([
            sum((self._prompt_cache[p] for p in e[1:]), torch.zeros_like(first[0]))
            for e in self.ensembles])
        self.text_features = F.normalize(first + self._rest, dim=-1)

    def prompt_features(self, model: VLModel, prompt_sets: tuple[tuple[str, ...], ...]) -> torch.Tensor:
        """``[B, C, D]`` class embeddings of per-sample prompt sets (e.g. adversarial prompts; set
        ``b`` replaces each class's first prompt); every distinct prompt is encoded once per cell."""
        new = list(dict.fromkeys(p for ps in prompt_sets for p in ps if p not in self._prompt_cache))
        if new:
            self._prompt_cache.update(zip(new, encode_texts(model, new), strict=True))
        feats = torch.stack([torch.stack([self._prompt_cache[p] for p in ps]) for ps in prompt_sets])
        return feats if self._rest is None else F.normalize(feats + self._rest.to(feats), dim=-1)

    def _scores(self, model: VLModel, signal: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Logits against the batch's own prompt sets when it carries them, else the class prompts."""
        if batch.prompts is None:
            return self.logits(model, signal)
        feats = encode_signal(model, self.modality, signal).float()
        texts = self.prompt_features(model, batch.prompts).to(feats.device)
        return _head(model, signal, model.logit_scale * torch.einsum("bd,bcd->bc", feats, texts))

    def logits(self, model: VLModel, signal: torch.Tensor) -> torch.Tensor:
        """``[B, C]`` zero-shot logits (the classifier view attack libraries drive); ``[B, C+1]``
        when the model's head adds a reject class."""
        if self._classifier:
            return model.classify(signal).float()  # type: ignore[attr-defined]
        if self.text_features is None:
            raise RuntimeError("ZeroShotClassification.prepare() must run before use")
        feats = encode_signal(model, self.modality, signal).float()
        return _head(model, signal, model.logit_scale * feats @ self.text_features.to(feats.device).T)

    def labels(self, model: VLModel, batch: Batch) -> torch.Tensor:
        """``[B]`` true class indices (on the signal's device)."""
        if batch.labels is None:
            raise DataError("zero-shot classification needs labels in every batch")
        return batch.labels.to(batch.signal.device)

    def loss(self, model: VLModel, signal: torch.Tensor, batch: Batch) -> torch.Tensor:
        labels = self.labels(model, batch).to(signal.device)
        return F.cross_entropy(self._scores(model, signal, batch), labels, reduction="none")

    def evaluate(self, model: VLModel, signal: torch.Tensor, batch: Batch) -> Outcome:
        labels = self.labels(model, batch).to(signal.device)
        scores = self._scores(model, signal, batch)
        pred = scores.argmax(dim=-1)
        finite = torch.isfinite(scores).all(dim=-1)
        if scores.shape[1] > len(self.class_names):  # a reject class
            return Outcome(pred, pred == labels, finite=finite,
                           info={"rejected": (pred == len(self.class_names)).tolist()})
        return Outcome(pred, pred == labels, finite=finite)

    def is_success(self, model: VLModel, signal: torch.Tensor, batch: Batch) -> torch.Tensor:
        return ~self.evaluate(model, signal, batch).correct


def _head(model: VLModel, images: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    head = getattr(model, "zero_shot_head", None)
    return logits if head is None else head(images, logits)
