"""Reference pages generated from the code (``python -m mmeval.docgen``): ``docs/plugin-hooks.md``
from the hook specs, ``docs/spec-reference.md`` from the pydantic spec models and
``docs/components.md`` from the registry. Tests fail when
a committed page differs from what the code generates."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

DOCS = Path(__file__).resolve().parent.parent.parent / "docs"


def hooks_page() -> str:
    from .. import hookspecs

    lines = ["# Plugin hooks", "",
             "Generated from `mmeval/hookspecs.py` by `python -m mmeval.docgen`; do not edit.",
             "Implement any of them with `@mmeval.hookimpl` in a module (or object) your",
             "distribution names under the `mmeval` entry-point group.", ""]
    doc = inspect.getdoc(hookspecs) or ""
    lines += [doc, ""]
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction):
        if not name.startswith("mmeval_"):
            continue
        sig = str(inspect.signature(fn)).replace("'", "")
        lines += [f"## `{name}`", "", "```python", f"def {name}{sig}", "```", "",
                  inspect.getdoc(fn) or "", ""]
    events = [obj for _, obj in inspect.getmembers(hookspecs, inspect.isclass)
              if obj.__module__ == hookspecs.__name__ and obj.__name__.endswith("Event")]
    lines += ["## Event objects", ""]
    for ev in events:
        fields = ", ".join(f"`{f}: {t}`" for f, t in ev.__annotations__.items())
        lines += [f"- `{ev.__name__}`: {fields}"]
    return "\n".join(lines).rstrip() + "\n"


def _type(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    return text or str(annotation).replace("typing.", "").replace("mmeval.spec.", "")


def _model_section(model: type[BaseModel], title: str) -> list[str]:
    lines = [f"## {title}", "", inspect.getdoc(model) or "", "",
             "| field | type | default | description |", "|---|---|---|---|"]
    for name, info in model.model_fields.items():
        if info.is_required():
            default = "required"
        elif info.default_factory is not None:
            value = info.default_factory()  # type: ignore[call-arg]
            default = f"`{value!r}`" if value in ([], {}) else "see below" if isinstance(
                value, BaseModel) else "the default set"
        else:
            default = f"`{info.default!r}`"
        desc = (info.description or "").replace("|", "\\|")
        kind = _type(info.annotation).replace("|", "\\|")
        lines.append(f"| `{name}` | `{kind}` | {default} | {desc} |")
    return [*lines, ""]


def spec_page() -> str:
    from .. import spec
    from ..training import spec as train_spec

    lines = ["# Spec reference", "",
             "Generated from the pydantic models by `python -m mmeval.docgen`; do not edit.",
             "Unknown fields are errors everywhere; errors name the field path "
             "(e.g. `attacks[1].params.eps`). Component parameters are listed by "
             "`mmeval list` and validated against each component's own `Params`.", ""]
    for model, title in [(spec.EvalSpec, "EvalSpec"), (spec.ModelSpec, "ModelSpec (models[i])"),
                         (spec.TaskSpec, "TaskSpec (tasks[i])"),
                         (spec.AttackSpec, "AttackSpec (attacks[i])"),
                         (spec.ComponentRef, "ComponentRef (any component reference)"),
                         (spec.RunSettings, "RunSettings (run)"),
                         (train_spec.TrainSpec, "TrainSpec (mmeval train)"),
                         (train_spec.OptimizerSettings, "OptimizerSettings (optimizer)"),
                         (train_spec.ScheduleSettings, "ScheduleSettings (schedule)")]:
        lines += _model_section(model, title)
    return "\n".join(lines).rstrip() + "\n"


def components_md() -> str:
    from ..describe import components_page
    from ..plugins import PluginHost

    return components_page(PluginHost())


PAGES = {"plugin-hooks.md": hooks_page, "spec-reference.md": spec_page,
         "components.md": components_md}


def main(argv: list[str] | None = None) -> int:
    """Write every generated page into docs/ (``--check``: exit 1 if one is stale)."""
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    stale = []
    for name, make in PAGES.items():
        path, text = DOCS / name, make()
        if check:
            if not path.is_file() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    for name in stale:
        print(f"docs/{name} is stale; run python -m mmeval.docgen", file=sys.stderr)
    return 1 if stale else 0
