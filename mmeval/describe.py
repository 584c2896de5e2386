"""What a registered component is and what it takes, read from the registry and its ``Params``
model: ``mmeval describe NAME``, ``mmeval list --params`` and docs/components.md render this."""

from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass
from typing import Any

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .plugins import PluginHost
from .registry import KINDS, Component
from .reporters.markdown import cell_text


@dataclass(frozen=True)
class ParamInfo:
    """One parameter: its type, default, constraint and description, as text."""

    name: str
    type: str
    default: str
    constraint: str
    description: str


def type_name(annotation: Any) -> str:
    """``int | None``, ``Literal['linf', 'l2']`` → ``'linf' | 'l2'``, ``list[str]``, ..."""
    if typing.get_origin(annotation) is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "None"
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is not None and args:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(type_name(a) for a in args)}]"
    return str(annotation).replace("typing.", "")


_BOUNDS = ((at.Ge, "ge", ">="), (at.Gt, "gt", ">"), (at.Le, "le", "<="), (at.Lt, "lt", "<"),
           (at.MinLen, "min_length", "length >="), (at.MaxLen, "max_length", "length <="))


def constraint(info: FieldInfo) -> str:
    """The field's bounds and pattern, e.g. ``>= 0, <= 1``."""
    out = []
    for meta in info.metadata:
        for cls, attr, sign in _BOUNDS:
            if isinstance(meta, cls):
                out.append(f"{sign} {getattr(meta, attr)}")
        pattern = getattr(meta, "pattern", None)
        if pattern:
            out.append(f"matches {pattern}")
    return ", ".join(out)


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return json.dumps(value, default=str)


def params_of(comp: Component) -> list[ParamInfo]:
    """Every parameter of ``comp``'s ``Params`` model."""
    return [ParamInfo(name, type_name(info.annotation), _default(info), constraint(info),
                      " ".join((info.description or "").split()))
            for name, info in comp.params_model().model_fields.items()]


def example(comp: Component) -> dict[str, Any]:
    """A spec entry naming ``comp``: its required params as placeholders and the scalar ones
    with their defaults, to edit."""
    name = comp.name.replace("/*", "/<variant>")
    params: dict[str, Any] = {}
    for p in params_of(comp):
        if p.default == "required":
            params[p.name] = f"<{p.type}>"
        elif not p.default.startswith(("{", "[", "null")):
            params[p.name] = json.loads(p.default)
    return {"name": name, "params": params} if params else {"name": name}


def origin(comp: Component, host: PluginHost) -> str:
    """``plugin (distribution version)`` of the plugin that registered ``comp``."""
    info = next((i for i in host.plugins() if i.name == comp.origin), None)
    return f"{comp.origin} ({info.distribution} {info.version})" if info else comp.origin


def describe(comp: Component, host: PluginHost) -> str:
    """``mmeval describe NAME``: the component, its origin, every parameter, an example."""
    aliases = f" (aliases: {', '.join(comp.aliases)})" if comp.aliases else ""
    lines = [f"{comp.kind} {comp.name}{aliases}", f"  {comp.summary}",
             f"  from plugin {origin(comp, host)}", ""]
    params = params_of(comp)
    if params:
        lines.append("params:")
        for p in params:
            bound = f", {p.constraint}" if p.constraint else ""
            lines.append(f"  {p.name}: {p.type} = {p.default}{bound}")
            if p.description:
                lines.append(f"      {p.description}")
    else:
        lines.append("params: none")
    lines += ["", "in a spec:", f"  {json.dumps(example(comp))}"]
    return "\n".join(lines)


def components_page(host: PluginHost) -> str:
    """docs/components.md: every registered component with its parameters."""
    lines = ["# Components", "",
             "Generated from the registry (every plugin in this repository installed) by "
             "`python -m mmeval.docgen`; do not edit. `mmeval describe NAME` prints the same for "
             "one component, including third-party ones.", ""]
    for kind in KINDS:
        comps = host.registry.components(kind)
        if not comps:
            continue
        lines += [f"## {kind}s", ""]
        for comp in comps:
            lines += [f"### `{comp.name}`", "", f"{comp.summary} (plugin `{comp.origin}`)", ""]
            params = params_of(comp)
            if params:
                lines += ["| param | type | default | constraint | description |",
                          "|---|---|---|---|---|"]
                lines += ["| " + " | ".join(cell_text(v) for v in (
                    f"`{p.name}`", f"`{p.type}`", f"`{p.default}`", p.constraint, p.description))
                    + " |" for p in params]
                lines.append("")
    return "\n".join(lines).rstrip() + "\n"
