"""Components made of other registered components. A joint attack names its stages in its
params — ``stage("textattack/bert-attack-vlm", modality="text")`` — and an attack that trains on
data names a dataset — ``component("dataset", "shapes")`` — so plugins compose through registry
names and never import each other. ``plan()`` resolves every such field at its path (for example
``attacks[2].params.text_attack.name``) and checks a stage's modality before anything is computed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from ..errors import UnknownComponentError
from ..plugins import get_host
from ..registry import Kind
from ..spec import ComponentRef
from ..types import Modality

if TYPE_CHECKING:
    from ..plugins import PluginHost

STAGE_KEY = "mmeval_component"

_HOST: ContextVar[PluginHost | None] = ContextVar("mmeval_build_host", default=None)


@contextmanager
def building(host: PluginHost) -> Iterator[PluginHost]:
    """Within the block, :func:`build_stage` builds from ``host``'s registry. ``plan()`` and the
    runner enter it with the plan's host, so a run builds every component and stage from the one
    registry it was planned against."""
    token = _HOST.set(host)
    try:
        yield host
    finally:
        _HOST.reset(token)


def component(kind: Kind, default: str | dict[str, Any] | None, *, description: str = "",
              modality: Modality | None = None) -> Any:
    """A Params field holding a registered component of ``kind`` (a name or ``{"name",
    "params"}``), resolved and validated by ``plan()`` at its field path; ``default=None`` makes
    the field required."""
    extra = {STAGE_KEY: {"kind": kind, "modality": modality}}
    description = description or f"a registered {kind}"
    if default is None:
        return Field(description=description, json_schema_extra=extra)
    return Field(default_factory=lambda: ComponentRef.model_validate(default),
                 description=description, json_schema_extra=extra)


def stage(default: str | dict[str, Any] | None, *, modality: Modality,
          description: str = "") -> Any:
    """A Params field holding a registered attack whose modality must be ``modality``."""
    return component("attack", default, modality=modality,
                     description=description or f"a registered {modality} attack")


def stages(params: BaseModel) -> Iterator[tuple[str, ComponentRef, Kind, str | None]]:
    """``(field name, reference, kind, required modality)`` of every component field of ``params``."""
    for name, info in type(params).model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and STAGE_KEY in extra:
            spec = extra[STAGE_KEY]
            yield name, getattr(params, name), spec["kind"], spec["modality"]


def stage_params(ref: ComponentRef, kind: Kind = "attack") -> type[BaseModel] | None:
    """The Params model of the component ``ref`` names, from the registry of the build context;
    None when no such component is registered (``plan()`` reports it at its path)."""
    try:
        return (_HOST.get() or get_host()).registry.get(kind, ref.name).params_model()
    except UnknownComponentError:
        return None


def build_stage(ref: ComponentRef, kind: Kind = "attack") -> Any:
    """Instantiate the component a component field names (validated again; plan() did it first)
    from the registry of the build context (:func:`building`); outside one, as when a component is
    constructed by hand, from the process-wide host."""
    found = (_HOST.get() or get_host()).registry.get(kind, ref.name)
    return found.instantiate(found.validate_params(ref.params, f"{kind} '{ref.name}' params"))


def declare_stage(ref: ComponentRef, kind: Kind = "attack") -> Any:
    """The declaration of the component a component field names, made from its params (what a
    joint attack's declaration reads its stage's threat model from), like :func:`build_stage`
    but without building it."""
    found = (_HOST.get() or get_host()).registry.get(kind, ref.name)
    return found.declare(found.validate_params(ref.params, f"{kind} '{ref.name}' params"))
