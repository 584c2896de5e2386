"""The contracts components implement. Structural (``typing.Protocol``): a plugin need not inherit
from mmeval classes, though :class:`mmeval.attacks.base.ImageAttack` does the bookkeeping for you."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel

from .types import (
    AttackOutput,
    Batch,
    MetricValue,
    Outcome,
    Sample,
    SampleRecord,
    SuiteMember,
    ThreatModel,
)

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class ImageSpec:
    """What a model's image side expects: the resolution attacks work at, the normalization the
    model applies inside its forward, and the value bounds of its inputs."""

    image_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    bounds: tuple[float, float] = (0.0, 1.0)


#: the image spec's earlier name (models written before audio set ``input_spec = InputSpec(...)``)
InputSpec = ImageSpec


def dataset_modality(dataset: object) -> str:
    """The signal ``dataset`` carries: its declared ``modality``, or ``image`` for a dataset
    that declares none (one written before audio)."""
    return str(getattr(dataset, "modality", "image"))


@dataclass(frozen=True)
class AudioSpec:
    """What a model's audio side expects: mono float waveforms at ``sample_rate`` Hz of
    ``length`` samples (the model pads or crops others inside its forward), values in
    ``bounds`` (full scale)."""

    sample_rate: int
    length: int
    bounds: tuple[float, float] = (-1.0, 1.0)


@runtime_checkable
class VLModel(Protocol):
    """A CLIP-like model of two or more towers aligned in one space: text and at least one signal
    (``capabilities`` names them; ``input_specs[m]`` is signal ``m``'s :class:`ImageSpec` or
    :class:`AudioSpec`). Images are float ``[B, 3, H, W]`` in [0, 1] and audio float ``[B, T]``
    waveforms in [-1, 1], NOT normalized or featurized: the model resizes, normalizes and computes
    spectrograms inside its differentiable forward. Embeddings are L2-normalized. A model with
    ``audio`` in its capabilities has ``encode_audio(waveforms) -> [B, D]``; one with ``image``,
    ``encode_image``."""

    input_specs: Mapping[str, ImageSpec | AudioSpec]
    capabilities: frozenset[str]
    training: bool

    @property
    def logit_scale(self) -> float | torch.Tensor:
        """CLIP's ``logit_scale.exp()``: a float, or a 0-d tensor on the model's device, which
        keeps the attack step free of host-device synchronisation."""

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor: ...

    def eval(self) -> VLModel: ...

    def train(self, mode: bool = True) -> VLModel: ...

    def parameters(self) -> Iterator[torch.nn.Parameter]: ...


@runtime_checkable
class ImageClassifier(Protocol):
    """A plain image classifier over ``class_names`` (no text side), e.g. the classifier branch of
    Multi-Shield. Zero-shot classification scores it by its own logits; images as for VLModel."""

    input_specs: Mapping[str, ImageSpec | AudioSpec]
    capabilities: frozenset[str]
    class_names: Sequence[str]
    training: bool

    def classify(self, images: torch.Tensor) -> torch.Tensor: ...

    def eval(self) -> ImageClassifier: ...

    def train(self, mode: bool = True) -> ImageClassifier: ...

    def parameters(self) -> Iterator[torch.nn.Parameter]: ...


@runtime_checkable
class Dataset(Protocol):
    """An indexable dataset with stable sample ids (resume and sharding rely on them).

    A classification dataset may also carry ``templates``: its own zero-shot prompt templates
    (each with one ``{}`` or ``{c}`` slot), or class-specific prompts keyed by class name; the
    zero-shot objective uses them with ``templates="dataset"``. ``objectives`` (a class
    attribute) names the objective kinds its samples serve: ``classification`` needs labels and
    class names, ``retrieval`` captions; ``modality`` (a class attribute; default ``image``) the
    signal its samples carry, ``image`` or ``audio``. Optional cheap accessors (no image loaded):
    ``sample_id(i)``, ``texts(i)`` and ``label(i)`` (what a stratified ``limit`` reads)."""

    objectives: ClassVar[tuple[str, ...]]
    class_names: Sequence[str] | None

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Sample: ...


@runtime_checkable
class Suite(Protocol):
    """A named list of datasets (e.g. the zero-shot benchmark of a paper). ``plan()`` expands a
    suite task into one task per member, each resolved and validated as a dataset of its own;
    ``objective_kind`` is the objective kind its datasets suit (classification, retrieval)."""

    objective_kind: ClassVar[str]

    def datasets(self) -> Sequence[SuiteMember]: ...


@runtime_checkable
class Objective(Protocol):
    """What the attacker wants. ``prepare`` runs once per cell (cache class-prompt embeddings
    there; the dataset's ``modality`` says which tower scores the signal); ``loss`` is per sample
    and the attacker maximizes it; ``evaluate`` scores clean/adv signals (images or audio, the
    batch's kind)."""

    kind: ClassVar[str]

    def prepare(self, model: VLModel, dataset: Dataset) -> None: ...

    def loss(self, model: VLModel, signal: torch.Tensor, batch: Batch) -> torch.Tensor: ...

    def evaluate(self, model: VLModel, signal: torch.Tensor, batch: Batch) -> Outcome: ...

    def is_success(self, model: VLModel, signal: torch.Tensor, batch: Batch) -> torch.Tensor: ...


@runtime_checkable
class PromptObjective(Objective, Protocol):
    """A classification objective over class prompts: after ``prepare``, ``prompts[c]`` is class
    ``c``'s prompt and ``text_features[c]`` its normalized embedding; ``labels`` gives each
    sample's class. What text attacks on class prompts read."""

    class_names: Sequence[str]
    prompts: tuple[str, ...]
    text_features: torch.Tensor | None

    def logits(self, model: VLModel, signal: torch.Tensor) -> torch.Tensor: ...

    def labels(self, model: VLModel, batch: Batch) -> torch.Tensor: ...


@runtime_checkable
class ClassifierObjective(Objective, Protocol):
    """An objective that can be presented as a classifier: ``logits(model, signal) -> [B, C]`` and
    ``labels(model, batch) -> [B]``. This is the view that classifier-attack libraries drive."""

    def logits(self, model: VLModel, signal: torch.Tensor) -> torch.Tensor: ...

    def labels(self, model: VLModel, batch: Batch) -> torch.Tensor: ...


class BatchRandomLike(Protocol):
    seeds: tuple[int, ...]

    def batch_seed(self) -> int: ...

    def rand(self, *shape: int) -> torch.Tensor: ...

    def randn(self, *shape: int) -> torch.Tensor: ...


@runtime_checkable
class Attack(Protocol):
    """A stateless callable with validated ``params`` and a declared ``threat_model``.

    The class declares the capability flags ``plan()`` reads (a class that omits one is refused):
    ``modality`` (what it perturbs), ``objectives`` (objective kinds it supports, None: any),
    ``uses_gradients``, ``noop`` (returns its inputs: the clean reference) and ``adaptive`` (built
    against a defense). The constructor must be cheap: ``plan()`` instantiates each attack once to
    read its threat model; load heavy state on first call."""

    Params: ClassVar[type[BaseModel]]
    modality: ClassVar[str]
    objectives: ClassVar[tuple[str, ...] | None]
    uses_gradients: ClassVar[bool]
    noop: ClassVar[bool]
    adaptive: ClassVar[bool]
    params: BaseModel

    @property
    def threat_model(self) -> ThreatModel: ...

    @property
    def eot(self) -> bool: ...

    def __call__(
        self, model: VLModel, batch: Batch, objective: Objective, rng: BatchRandomLike
    ) -> AttackOutput: ...


@runtime_checkable
class Defense(Protocol):
    """Something that makes a model more robust. ``weights`` defenses return a fine-tuned model,
    ``preprocess`` ones wrap the forward, ``detector`` ones add abstention."""

    kind: ClassVar[Literal["weights", "preprocess", "detector"]]
    stochastic: ClassVar[bool]
    differentiable: ClassVar[bool]

    def apply(self, model: VLModel) -> VLModel: ...


@runtime_checkable
class Metric(Protocol):
    """Computed from stored records, never inside the attack loop. ``scope`` is ``cell`` (records of
    one cell) or ``group`` (records of every attack cell of one model x defense x task);
    ``objectives`` names the objective kinds whose records it understands (None: any); ``unit`` is
    ``share`` (reported in %) or a count unit (reported as is); ``higher_is_better`` says which way
    is better for the evaluated model (None: neither), what baselines compare one-sided."""

    scope: ClassVar[Literal["cell", "group"]]
    objectives: ClassVar[tuple[str, ...] | None]
    unit: ClassVar[str]
    higher_is_better: ClassVar[bool | None]

    def compute(self, records: Sequence[SampleRecord]) -> MetricValue: ...
