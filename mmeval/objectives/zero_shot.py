"""Zero-shot classification (Radford et al., "Learning Transferable Visual Models From Natural
Language Supervision", ICML 2021): logits = logit_scale * cos(image embedding, class embedding).
A class embedding is its prompt's embedding, or with a prompt ensemble the mean of its prompts'
normalized embeddings, renormalized (CLIP's recipe, also CLIP_benchmark's).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator, model_validator

from ..errors import DataError
from ..protocols import Dataset, VLModel
from ..registry import Params
from ..types import Batch, Outcome
from . import encode_texts

#: named prompt sets: the dataset's own templates, or open_clip's copies of OpenAI's ImageNet sets
TemplateSet = Literal["dataset", "openai-imagenet", "openai-imagenet-simple"]
_OPEN_CLIP_SETS = {"openai-imagenet": "OPENAI_IMAGENET_TEMPLATES",
                   "openai-imagenet-simple": "SIMPLE_IMAGENET_TEMPLATES"}


def check_template(v: str) -> str:
    """``v`` if it has exactly one class slot, ``{}`` or ``{c}``."""
    if v.count("{}") + v.count("{c}") != 1:
        raise ValueError("a template needs exactly one '{}' (or '{c}') for the class name")
    return v


def fill(template: str, name: str) -> str:
    """``template`` with its class slot (``{}`` or ``{c}``) replaced by ``name``."""
    return template.replace("{c}", name) if "{c}" in template else template.replace("{}", name)


class ZeroShotParams(Params):
    template: str = Field(default="This is a photo of a {}",
                          description="prompt with one {} for the class name (TeCoA/MMCoA prompt)")
    templates: list[str] | TemplateSet | None = Field(
        default=None, description="a prompt ensemble instead of `template`: a list of templates, "
        "`dataset` (the dataset's own, e.g. CLIP_benchmark's), `openai-imagenet` (OpenAI's 80 "
        "ImageNet templates) or `openai-imagenet-simple` (its 7-template subset)")
    clean_names: bool | None = Field(
        default=None, description="lower-case class names and turn _ - / into spaces; default: "
        "yes with `template` (TeCoA/MMCoA), no with `templates` (CLIP, CLIP_benchmark)")

    _one_slot = field_validator("template")(lambda v: check_template(v))

    @field_validator("templates")
    @classmethod
    def _each_one_slot(cls, v: list[str] | str | None) -> list[str] | str | None:
        if isinstance(v, list):
            if not v:
                raise ValueError("give at least one template")
            for t in v:
                check_template(t)
        return v

    @model_validator(mode="after")
    def _one_source(self) -> ZeroShotParams:
        if self.templates is not None and "template" in self.model_fields_set:
            raise ValueError("give `template` or `templates`, not both")
        return self

    def prompts_for(self, names: Sequence[str], dataset: Any) -> list[tuple[str, ...]]:
        """Each class's prompts (one with ``template``; the ensemble with ``templates``)."""
        clean = self.clean_names if self.clean_names is not None else self.templates is None
        shown = [clean_class_name(n) if clean else n for n in names]
        source: Sequence[str] | Mapping[str, Sequence[str]]
        if self.templates is None:
            source = [self.template]
        elif self.templates == "dataset":
            source = getattr(dataset, "templates", None) or ()
            if not source:
                raise DataError("templates='dataset', but the dataset has no templates; list "
                                "them or use a named set such as 'openai-imagenet'")
        elif isinstance(self.templates, str):
            from open_clip import zero_shot_metadata

            source = [t("{}") for t in getattr(zero_shot_metadata, _OPEN_CLIP_SETS[self.templates])]
        else:
            source = self.templates
        if isinstance(source, Mapping):  # class-specific prompts (e.g. CuPL), keyed by class name
            missing = [n for n in names if not source.get(n)]
            if missing:
                raise DataError(f"the dataset's class-specific prompts lack classes {missing[:5]}")
            return [tuple(source[n]) for n in names]
        return [tuple(fill(check_template(t), s) for t in source) for s in shown]


def clean_class_name(name: str) -> str:
    """Lower-case; ``_``, ``-`` and ``/`` become spaces (the TeCoA/MMCoA convention)."""
    return re.sub(r"\s+", " ", re.sub(r"[_\-/]", " ", name.lower())).strip()


class ZeroShotClassification:
    """Untargeted zero-shot classification. The attacker maximizes the per-sample cross-entropy of
    the zero-shot logits; class embeddings are computed once in ``prepare`` and cached.

    ``prompts[c]`` is class ``c``'s first prompt: what a text attack on class prompts perturbs.
    With an ensemble, an adversarial prompt replaces that one prompt and the class embedding is
    re-averaged with the class's other (unchanged) prompts.

    A model may post-process the zero-shot logits with ``zero_shot_head(images, logits)`` (a
    detector appends a reject class: index C, counted wrong, journaled as ``rejected``); a plain
    :class:`~mmeval.protocols.ImageClassifier` (no text side) is scored by its own logits."""

    kind: ClassVar[str] = "classification"
    Params = ZeroShotParams

    def __init__(self, params: ZeroShotParams | None = None) -> None:
        self.params = params or ZeroShotParams()
        self.class_names: tuple[str, ...] = ()
        self.prompts: tuple[str, ...] = ()
        self.ensembles: tuple[tuple[str, ...], ...] = ()
        self.text_features: torch.Tensor | None = None
        self._rest: torch.Tensor | None = None  # per class: sum of its other prompts' embeddings
        self._prompt_cache: dict[str, torch.Tensor] = {}
        self._classifier = False

    def prepare(self, model: VLModel, dataset: Dataset) -> None:
        names = getattr(dataset, "class_names", None)
        if not names:
            raise DataError("zero-shot classification needs a dataset with class_names")
        self.class_names = tuple(names)
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

    def _scores(self, model: VLModel, images: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Logits against the batch's own prompt sets when it carries them, else the class prompts."""
        if batch.prompts is None:
            return self.logits(model, images)
        feats = model.encode_image(images).float()
        texts = self.prompt_features(model, batch.prompts).to(feats.device)
        return _head(model, images, model.logit_scale * torch.einsum("bd,bcd->bc", feats, texts))

    def logits(self, model: VLModel, images: torch.Tensor) -> torch.Tensor:
        """``[B, C]`` zero-shot logits (the classifier view attack libraries drive); ``[B, C+1]``
        when the model's head adds a reject class."""
        if self._classifier:
            return model.classify(images).float()  # type: ignore[attr-defined]
        if self.text_features is None:
            raise RuntimeError("ZeroShotClassification.prepare() must run before use")
        feats = model.encode_image(images).float()
        return _head(model, images, model.logit_scale * feats @ self.text_features.to(feats.device).T)

    def labels(self, model: VLModel, batch: Batch) -> torch.Tensor:
        """``[B]`` true class indices (on the images' device)."""
        if batch.labels is None:
            raise DataError("zero-shot classification needs labels in every batch")
        return batch.labels.to(batch.images.device)

    def loss(self, model: VLModel, images: torch.Tensor, batch: Batch) -> torch.Tensor:
        labels = self.labels(model, batch).to(images.device)
        return F.cross_entropy(self._scores(model, images, batch), labels, reduction="none")

    def evaluate(self, model: VLModel, images: torch.Tensor, batch: Batch) -> Outcome:
        labels = self.labels(model, batch).to(images.device)
        scores = self._scores(model, images, batch)
        pred = scores.argmax(dim=-1)
        finite = torch.isfinite(scores).all(dim=-1)
        if scores.shape[1] > len(self.class_names):  # a reject class
            return Outcome(pred, pred == labels, finite=finite,
                           info={"rejected": (pred == len(self.class_names)).tolist()})
        return Outcome(pred, pred == labels, finite=finite)

    def is_success(self, model: VLModel, images: torch.Tensor, batch: Batch) -> torch.Tensor:
        return ~self.evaluate(model, images, batch).correct


def _head(model: VLModel, images: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    head = getattr(model, "zero_shot_head", None)
    return logits if head is None else head(images, logits)
