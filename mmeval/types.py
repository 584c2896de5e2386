"""Plain data carried between components: batches, threat models, attack outputs, records, metric values.

Importing it does not import torch (planning, validation and the reports use these types without
any tensor); torch is imported where a batch is built."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch

Modality = Literal["none", "image", "audio", "text", "image+text", "audio+text"]
#: the continuous modalities an attack perturbs with a norm budget (text is discrete)
SignalModality = Literal["image", "audio"]
Norm = Literal["linf", "l2"]

#: each signal modality's value range: images are raw pixels in [0, 1], audio float waveforms in
#: [-1, 1] (full scale); attacks project into it and the base class verifies it
BOUNDS: dict[str, tuple[float, float]] = {"image": (0.0, 1.0), "audio": (-1.0, 1.0)}
#: the Batch / AttackOutput field that carries each signal modality
FIELDS: dict[str, str] = {"image": "images", "audio": "audio"}


def signal_of(modality: str) -> str | None:
    """The signal modality (image or audio) a modality such as ``audio+text`` changes; None for
    ``text`` and ``none``."""
    return next((m for m in modality.split("+") if m in BOUNDS), None)


@dataclass(frozen=True)
class SuiteMember:
    """One dataset of a suite: its label in reports and the registered dataset it resolves to."""

    label: str
    dataset: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sample:
    """One dataset item: an ``image`` (float ``[3, H, W]`` in [0, 1]) or ``audio`` (a float
    ``[T]`` waveform in [-1, 1] at ``sample_rate`` Hz), with its label and captions."""

    sample_id: str
    image: torch.Tensor | None = None
    label: int | None = None
    texts: tuple[str, ...] = ()
    audio: torch.Tensor | None = None
    sample_rate: int | None = None


@dataclass(frozen=True)
class Batch:
    """A batch of samples carrying one signal: ``images`` ``[B, 3, H, W]`` in [0, 1], or ``audio``
    ``[B, T]`` waveforms in [-1, 1] at ``sample_rate`` Hz. ``labels`` is ``[B]`` long or None;
    ``texts[i]`` holds the captions of sample ``i``; ``prompts[i]``, when set, replaces the class
    prompts a classification objective scores sample ``i`` against (what text attacks change)."""

    sample_ids: tuple[str, ...]
    images: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    texts: tuple[tuple[str, ...], ...] = ()
    prompts: tuple[tuple[str, ...], ...] | None = None
    #: per-sample target embeddings ``[B, D]`` for objectives that need them (FARE's original
    #: embeddings); None otherwise
    targets: torch.Tensor | None = None
    audio: torch.Tensor | None = None
    sample_rate: int | None = None

    def __len__(self) -> int:
        return len(self.sample_ids)

    @property
    def modality(self) -> SignalModality:
        """The signal modality the batch carries (``image`` or ``audio``)."""
        return "audio" if self.images is None else "image"

    @property
    def signal(self) -> torch.Tensor:
        """The batch's signal: ``images`` or ``audio``, whichever it carries."""
        x = self.images if self.images is not None else self.audio
        if x is None:
            raise ValueError("the batch carries neither images nor audio")
        return x

    def with_signal(self, x: torch.Tensor) -> Batch:
        """The batch with its signal replaced by ``x``."""
        return replace(self, **{FIELDS[self.modality]: x})

    @classmethod
    def collate(cls, samples: Sequence[Sample]) -> Batch:
        import torch

        labels = [s.label for s in samples]
        audio = samples[0].image is None if samples else False
        if any((s.image is None) != audio or (s.audio is None) == audio for s in samples):
            raise ValueError("every sample of a batch must carry exactly one signal, the same "
                             "one (an image or audio)")
        rates = {s.sample_rate for s in samples}
        if audio and len(rates) != 1:
            raise ValueError(f"the audio samples of a batch have different sample rates {rates}")
        return cls(
            sample_ids=tuple(s.sample_id for s in samples),
            images=None if audio else torch.stack([s.image for s in samples]),  # type: ignore[misc]
            labels=None if any(lab is None for lab in labels) else torch.tensor(labels),
            texts=tuple(s.texts for s in samples),
            audio=torch.stack([s.audio for s in samples]) if audio else None,  # type: ignore[misc]
            sample_rate=rates.pop() if audio else None,
        )

    def _map(self, fn: Callable[[torch.Tensor], torch.Tensor],
             rows: Callable[[tuple[Any, ...]], tuple[Any, ...]] = lambda t: t) -> Batch:
        def opt(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else fn(t)

        return Batch(rows(self.sample_ids), opt(self.images), opt(self.labels),
                     rows(self.texts) if self.texts else (),
                     None if self.prompts is None else rows(self.prompts), opt(self.targets),
                     opt(self.audio), self.sample_rate)

    def subset(self, index: torch.Tensor) -> Batch:
        """The samples at positions ``index`` (a 1-D long tensor), in that order."""
        picked = index.tolist()
        return self._map(lambda t: t[index.to(t.device)],
                         lambda items: tuple(items[i] for i in picked))

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        return self._map(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> Batch:
        """The batch with its tensors in page-locked memory (what DataLoader's pin_memory calls)."""
        return self._map(lambda t: t.pin_memory())


@dataclass(frozen=True)
class ThreatModel:
    """What an attack may change: ``modality``; for a signal (image, audio) an Lp ``norm`` ball of
    radius ``eps`` in the signal's units (pixels in [0, 1], amplitude in [-1, 1]) and, when
    ``snr_db`` is set, a signal-to-noise ratio of at least ``snr_db`` decibels,
    ``20 log10(||x||_2 / ||delta||_2)`` per sample (how audio attacks state their budget); for
    texts at most ``max_words`` changed words per text and at most
    ``ceil(max_word_fraction * words)`` of them."""

    modality: Modality
    norm: Norm | None = None
    eps: float | None = None
    max_words: int | None = None
    max_word_fraction: float | None = None
    snr_db: float | None = None

    def budget(self) -> str:
        """The signal budget in words, in the signal's units: ``linf eps 4/255`` for images,
        ``linf eps 0.002, SNR >= 30 dB`` for audio; empty without one."""
        parts = []
        if self.norm and self.eps is not None:
            image = signal_of(self.modality) == "image"
            parts.append(f"{self.norm} eps " + (f"{255 * self.eps:.3g}/255" if image
                                                else f"{self.eps:.3g}"))
        if self.snr_db is not None:
            parts.append(f"SNR >= {self.snr_db:g} dB")
        return ", ".join(parts)


@dataclass(frozen=True)
class AttackOutput:
    """What an attack returns. ``images`` (``[B, 3, H, W]``), ``audio`` (``[B, T]``), ``texts``
    (per-sample captions) or ``prompts`` (per-sample class-prompt sets) may be None when
    untouched; ``info`` holds per-sample extras (lists of length B) that go into records."""

    images: torch.Tensor | None = None
    texts: tuple[tuple[str, ...], ...] | None = None
    prompts: tuple[tuple[str, ...], ...] | None = None
    info: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    audio: torch.Tensor | None = None

    @classmethod
    def of(cls, modality: str, x: torch.Tensor, **kwargs: Any) -> AttackOutput:
        """An output whose ``modality`` signal (image or audio) is ``x``."""
        return cls(**{FIELDS[modality]: x}, **kwargs)

    def signal(self, modality: str) -> torch.Tensor | None:
        """The output's ``modality`` signal (None: untouched)."""
        return getattr(self, FIELDS[modality])


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
    """One (cell, sample) result, as journaled. ``linf``/``l2`` are the norms of the signal's
    (image's or audio's) perturbation;
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
