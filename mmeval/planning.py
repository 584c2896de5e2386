"""``plan(spec)``: resolve every name, validate every params block, check that components can be
combined, and expand the grid model x defense x task x attack into cells with stable ids.
Nothing is built and nothing is computed here."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel

from .attacks.compose import stages
from .errors import IncompatibleComponentsError, SpecError
from .plugins import PluginHost, get_host
from .registry import Component, ComponentRegistry, Kind
from .spec import ComponentRef, EvalSpec, stable_hash, validate_spec


@dataclass(frozen=True)
class Resolved:
    """A component reference resolved against the registry, with validated params."""

    component: Component
    params: BaseModel
    label: str
    path: str
    #: for a transfer attack: the model it is crafted on
    source: Resolved | None = None

    @property
    def name(self) -> str:
        return self.component.name

    def definition(self) -> dict[str, Any]:
        out = {"name": self.name, "params": self.params.model_dump(mode="json")}
        if self.source is not None:
            out["source"] = self.source.definition()
        return out

    def build(self, **kwargs: Any) -> Any:
        return self.component.instantiate(self.params, **kwargs)


@dataclass(frozen=True)
class Task:
    dataset: Resolved
    objective: Resolved
    limit: int | None
    label: str
    index: int


@dataclass(frozen=True)
class Cell:
    """One (model, defense, task, attack) combination. ``id`` depends only on the components'
    definitions and the run seed/precision, so it is stable across re-runs and spec re-ordering."""

    id: str
    group: str
    model: Resolved
    model_index: int
    defense: Resolved | None
    task: Task
    attack: Resolved

    @property
    def label(self) -> str:
        defense = self.defense.label if self.defense else "none"
        return f"{self.model.label} | {defense} | {self.task.label} | {self.attack.label}"

    def definition(self) -> dict[str, Any]:
        return {
            "model": self.model.definition(),
            "defense": self.defense.definition() if self.defense else None,
            "dataset": self.task.dataset.definition(),
            "objective": self.task.objective.definition(),
            "attack": self.attack.definition(),
        }


@dataclass
class Plan:
    spec: EvalSpec
    host: PluginHost
    cells: list[Cell]
    metrics: list[Resolved]
    warnings: list[str] = field(default_factory=list)


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _default_label(ref: ComponentRef) -> str:
    if not ref.params:
        return ref.name
    return f"{ref.name}({', '.join(f'{k}={_fmt(v)}' for k, v in sorted(ref.params.items()))})"


def _unique(labels: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        seen[lab] = seen.get(lab, 0) + 1
        out.append(lab if seen[lab] == 1 else f"{lab}#{seen[lab]}")
    return out


def resolve_ref(registry: ComponentRegistry, kind: Kind, ref: ComponentRef, path: str,
                label: str | None = None) -> Resolved:
    """``ref`` resolved against ``registry`` with validated params; errors name ``path``."""
    comp = registry.get(kind, ref.name, f"{path}.name")
    comp.check_variant(f"{path}.name")
    params = comp.validate_params(ref.params, f"{path}.params")
    return Resolved(comp, params, ref.label or label or _default_label(ref), path)


def resolve_stages(registry: ComponentRegistry, owner: Resolved) -> list[Resolved]:
    """The attack stages ``owner``'s params name (every component field is resolved and
    validated at its path; an attack stage's modality must be the one the field asks for)."""
    staged = []
    for name, ref, kind, needed in stages(owner.params):
        st = resolve_ref(registry, kind, ref, f"{owner.path}.params.{name}")
        if kind != "attack":
            continue
        modality = getattr(st.component.load(), "modality", "image")
        if needed is not None and modality != needed:
            raise IncompatibleComponentsError(
                f"'{st.name}' is a {modality} attack; this stage needs a {needed} attack",
                f"{st.path}.name")
        staged.append(st)
    return staged


def plan(spec: EvalSpec | dict[str, Any], host: PluginHost | None = None) -> Plan:
    """Validate ``spec`` completely and expand it into cells; raises SpecError with a field path."""
    spec = validate_spec(spec)
    host = host or get_host()
    registry = host.registry

    def resolve(kind: Kind, ref: ComponentRef, path: str, label: str | None = None) -> Resolved:
        return resolve_ref(registry, kind, ref, path, label)

    model_labels = _unique([m.label or _default_label(m) for m in spec.models])
    models = [resolve("model", m, f"models[{i}]", model_labels[i]) for i, m in enumerate(spec.models)]
    defenses = [
        ([None] if m.include_undefended else [])
        + [resolve("defense", d, f"models[{i}].defenses[{j}]") for j, d in enumerate(m.defenses)]
        for i, m in enumerate(spec.models)
    ]
    for i, opts in enumerate(defenses):
        if not opts:
            raise SpecError("include_undefended is False and no defenses are listed",
                            f"models[{i}].defenses")
        for d in opts:
            if d is None:
                continue
            resolve_stages(registry, d)
            if (getattr(d.component.load(), "kind", None) == "weights"
                    and not getattr(d.params, "checkpoint", "given")):
                raise SpecError("a weight defense is evaluated from the checkpoint `mmeval train` "
                                "wrote with it; pass that path", f"{d.path}.params.checkpoint")
    task_labels = _unique([t.label or t.dataset.label or _default_label(t.dataset)
                           for t in spec.tasks])
    tasks = [
        Task(resolve("dataset", t.dataset, f"tasks[{i}].dataset"),
             resolve("objective", t.objective, f"tasks[{i}].objective"), t.limit,
             task_labels[i], i)
        for i, t in enumerate(spec.tasks)
    ]
    attack_labels = _unique([a.label or _default_label(a) + (
        f" from {a.source.label or _default_label(a.source)}" if a.source else "")
        for a in spec.attacks])
    attacks = []
    for i, a in enumerate(spec.attacks):
        attack = resolve("attack", a, f"attacks[{i}]", attack_labels[i])
        if a.source is not None:
            attack = replace(attack, source=resolve("model", a.source, f"attacks[{i}].source"))
        attacks.append(attack)
    # the stages joint attacks name in their params, checked like top-level attacks
    staged = [st for a in attacks for st in resolve_stages(registry, a)]
    metrics = [resolve("metric", m, f"metrics[{i}]") for i, m in enumerate(spec.metrics)]

    warnings: list[str] = []
    _check_compatibility(models, defenses, tasks, attacks + staged, warnings)

    salt = {"seed": spec.run.seed, "precision": spec.run.precision}
    cells: list[Cell] = []
    seen: dict[str, str] = {}
    for mi, model in enumerate(models):
        for defense in defenses[mi]:
            for task in tasks:
                group_def = {"model": model.definition(),
                             "defense": defense.definition() if defense else None,
                             "dataset": task.dataset.definition(),
                             "objective": task.objective.definition(), **salt}
                group = "g-" + stable_hash(group_def, 12)
                for attack in attacks:
                    cid = "c-" + stable_hash({**group_def, "attack": attack.definition()}, 12)
                    where = f"{model.path} x {task.dataset.path} x {attack.path}"
                    if cid in seen:
                        raise SpecError(f"this combination duplicates {seen[cid]}; remove one",
                                        where)
                    seen[cid] = where
                    cells.append(Cell(cid, group, model, mi, defense, task, attack))
    return Plan(spec, host, cells, metrics, warnings)


def _check_compatibility(
    models: list[Resolved],
    defenses: list[list[Resolved | None]],
    tasks: list[Task],
    attacks: list[Resolved],
    warnings: list[str],
) -> None:
    for attack in attacks:
        cls = attack.component.load()
        supported = getattr(cls, "objectives", None)
        modality = getattr(cls, "modality", "image")
        for task in tasks:
            kind = getattr(task.objective.component.load(), "kind", None)
            if supported is not None and kind not in supported:
                raise IncompatibleComponentsError(
                    f"attack '{attack.name}' supports objectives of kind {list(supported)}, but "
                    f"{task.objective.path} '{task.objective.name}' is of kind '{kind}'; "
                    f"drop the attack or the task", attack.path)
        for model in models:
            caps = getattr(model.component.load(), "capabilities", None)
            needed = {m for m in ("image", "text") if m in modality}
            if caps is not None and not needed <= set(caps):
                raise IncompatibleComponentsError(
                    f"attack '{attack.name}' perturbs {modality}, but model '{model.name}' "
                    f"({model.path}) only has capabilities {sorted(caps)}", attack.path)
    gradient_attacks = [a for a in attacks if getattr(a.component.load(), "uses_gradients", False)]
    for opts in defenses:
        for d in opts:
            if d is None:
                continue
            cls = d.component.load()
            if gradient_attacks and (getattr(cls, "stochastic", False)
                                     or not getattr(cls, "differentiable", True)):
                warnings.append(
                    f"{d.path} '{d.name}' is stochastic or non-differentiable; gradient attacks "
                    f"({', '.join(a.label for a in gradient_attacks)}) may overestimate robustness "
                    f"without EOT/BPDA or an adaptive attack")
