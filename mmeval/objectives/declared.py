"""What the built-in objectives declare, readable without torch: their params and kinds. The
objectives themselves (``zero_shot``, ``retrieval``) subclass these declarations."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from ..errors import DataError
from ..registry import NoParams, Params

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


class ZeroShotDeclared:
    """Zero-shot classification over class prompts (Radford et al., ICML 2021)."""

    kind: ClassVar[str] = "classification"
    Params = ZeroShotParams


class RetrievalDeclared:
    """Image-text retrieval over the task's caption gallery (TR@K and IR@K)."""

    kind: ClassVar[str] = "retrieval"
    Params = NoParams
