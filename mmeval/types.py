"""Plain data carried between components: batches, threat models, attack outputs, records, metric values.

Importing it does not import torch (planning, validation and the reports use these types without
any tensor); torch is imported where a batch is built."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch

Modality = Literal["none", "image", "text", "image+text"]
Norm = Literal["linf", "l2"]


@dataclass(frozen=True)
class SuiteMember:
    """One dataset of a suite: its label in reports and the registered dataset it resolves to."""

    label: str
    dataset: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sample:
    """One dataset item. ``image`` is a float ``[3, H, W]`` tensor in [0, 1]."""

    sample_id: str
    image: torch.Tensor
    label: int | None = None
    texts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Batch:
    """A batch of samples. ``images`` is ``[B, 3, H, W]`` in [0, 1]; ``labels`` is ``[B]`` long or None;
    ``texts[i]`` holds the captions of sample ``i``; ``prompts[i]``, when set, replaces the class
    prompts a classification objective scores sample ``i`` against (what text attacks change)."""

    sample_ids: tuple[str, ...]
    images: torch.Tensor
    labels: torch.Tensor | None = None
    texts: tuple[tuple[str, ...], ...] = ()
    prompts: tuple[tuple[str, ...], ...] | None = None
    #: per-sample target embeddings ``[B, D]`` for objectives that need them (FARE's original
    #: embeddings); None otherwise
    targets: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.sample_ids)

    @classmethod
    def collate(cls, samples: Sequence[Sample]) -> Batch:
        import torch

        labels = [s.label for s in samples]
        return cls(
            sample_ids=tuple(s.sample_id for s in samples),
            images=torch.stack([s.image for s in samples]),
            labels=None if any(lab is None for lab in labels) else torch.tensor(labels),
            texts=tuple(s.texts for s in samples),
        )

    def subset(self, index: torch.Tensor) -> Batch:
        """The samples at positions ``index`` (a 1-D long tensor), in that order."""
        rows = index.tolist()
        return Batch(
            tuple(self.sample_ids[i] for i in rows),
            self.images[index.to(self.images.device)],
            None if self.labels is None else self.labels[index.to(self.labels.device)],
            tuple(self.texts[i] for i in rows) if self.texts else (),
            None if self.prompts is None else tuple(self.prompts[i] for i in rows),
            None if self.targets is None else self.targets[index.to(self.targets.device)],
        )

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        return Batch(
            self.sample_ids,
            self.images.to(device, non_blocking=non_blocking),
            None if self.labels is None else self.labels.to(device, non_blocking=non_blocking),
            self.texts,
            self.prompts,
            None if self.targets is None else self.targets.to(device, non_blocking=non_blocking),
        )

    def pin_memory(self) -> Batch:
        """The batch with its tensors in page-locked memory (what DataLoader's pin_memory calls)."""
        return Batch(self.sample_ids, self.images.pin_memory(),
                     None if self.labels is None else self.labels.pin_memory(),
                     self.texts, self.prompts,
                     None if self.targets is None else self.targets.pin_memory())


@dataclass(frozen=True)
class ThreatModel:
    """What an attack may change: ``modality``, and for images an Lp ``norm`` ball of radius ``eps``
    in [0, 1] pixel space; for texts at most ``max_words`` changed words per text and at most
    ``ceil(max_word_fraction * words)`` of them."""

    modality: Modality
    norm: Norm | None = None
    eps: float | None = None
    max_words: int | None = None
    max_word_fraction: float | None = None


@dataclass(frozen=True)
class AttackOutput:
    """What an attack returns. ``images`` (``[B, 3, H, W]``), ``texts`` (per-sample captions) or
    ``prompts`` (per-sample class-prompt sets) may be None when untouched; ``info`` holds per-sample
    extras (lists of length B) that go into records."""

    images: torch.Tensor | None = None
    texts: tuple[tuple[str, ...], ...] | None = None
    prompts: tuple[tuple[str, ...], ...] | None = None
    info: Mapping[str, Sequence[Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """An objective's verdict on a batch: predicted index and whether it is correct, both ``[B]``;
    ``arrays`` holds per-sample tensors to journal (e.g. embeddings for gallery metrics), ``info``
    per-sample values (lists of length B) that go into records as ``clean_<key>`` / ``adv_<key>``
    (e.g. ``rejected`` for a detector's abstentions); ``finite`` is False where the model's output
    held NaN or inf (None: all finite) — such samples are flagged, never scored."""

    pred: torch.Tensor
    correct: torch.Tensor
    arrays: Mapping[str, Sequence[torch.Tensor]] = field(default_factory=dict)
    info: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    finite: torch.Tensor | None = None


@dataclass(frozen=True)
class SampleRecord:
    """One (cell, sample) result, as journaled. ``linf``/``l2`` are the image perturbation norms;
    ``arrays`` are the objective's per-sample tensors, prefixed ``clean_`` / ``adv_``."""

    cell_id: str
    sample_id: str
    label: int | None
    clean_pred: int | None
    adv_pred: int | None
    clean_correct: bool
    adv_correct: bool
    linf: float = 0.0
    l2: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)
    arrays: Mapping[str, torch.Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricValue:
    """A metric with its 95% interval ``[low, high]`` over ``n`` samples (NaN value when n = 0)."""

    value: float
    low: float
    high: float
    n: int

    def as_dict(self) -> dict[str, float | int | None]:
        def clean(v: float) -> float | None:
            return None if math.isnan(v) else v

        return {"value": clean(self.value), "low": clean(self.low), "high": clean(self.high),
                "n": self.n}
