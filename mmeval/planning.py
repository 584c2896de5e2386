"""``plan(spec)``: resolve every name against one plugin host, validate every params block, check
that components can be combined, and expand the grid model x defense x task x attack into cells
with stable ids, each with a frozen :class:`CellInfo` (labels, objective kind, threat model, role,
source, stage tree). Nothing is computed or built here: every fact comes from the components'
declarations (see :mod:`mmeval.registry`); an attack's is instantiated from its params, inside the
plan's build context, to read its threat model.

The :class:`Plan` is the run: the runner, the gates, the metrics and the reporters read it (and the
cell descriptions it writes to the journal); nothing after ``plan()`` consults the registry or
infers a fact from a component's name or params."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from . import fingerprints
from .attacks.compose import building, stages
from .errors import (
    DataError,
    IncompatibleComponentsError,
    MissingDependencyError,
    ModelLoadError,
    PluginLoadError,
    SpecError,
)
from .plugins import PluginHost, get_host
from .protocols import dataset_modality
from .registry import Component, ComponentRegistry, Kind, identity
from .spec import ComponentRef, EvalSpec, stable_hash, validate_spec
from .types import ThreatModel, signal_of

Role = Literal["clean", "white-box", "transfer", "adaptive"]

#: the capability flags each kind's protocol declares and the planner reads (no defaults: a
#: component that omits one is refused when it is resolved)
FLAGS: dict[Kind, tuple[str, ...]] = {
    "model": ("capabilities",),
    "attack": ("modality", "objectives", "uses_gradients", "noop", "adaptive"),
    "defense": ("kind", "stochastic", "differentiable"),
    "objective": ("kind",),
    "dataset": ("objectives",),
    "suite": ("objective_kind",),
    "metric": ("scope", "objectives", "unit", "higher_is_better"),
}


#: flags added after plugins were written, each read from a declaration by a function that gives
#: the value every earlier component meant (a dataset that declares no ``modality`` carries images)
LATER_FLAGS: dict[Kind, dict[str, Callable[[Any], Any]]] = {
    "dataset": {"modality": dataset_modality}}


def declared(comp: Component, flag: str, path: str) -> Any:
    """The capability ``flag`` that ``comp`` declares; an error naming the plugin if not."""
    try:
        return getattr(comp.declaration(), flag)
    except AttributeError:
        raise PluginLoadError(
            f"{path}: {comp.kind} '{comp.name}' (from plugin '{comp.origin}') does not declare "
            f"`{flag}`, which the {comp.kind} protocol requires (see docs/writing-plugins.md); "
            "declare it as a class attribute") from None


@dataclass(frozen=True)
class Resolved:
    """A component reference resolved against the registry, with validated params."""

    component: Component
    params: BaseModel
    label: str
    path: str
    #: the capability flags the component's protocol declares, read once at resolution
    flags: dict[str, Any] = field(default_factory=dict, compare=False)
    #: for a transfer attack: the model it is crafted on
    source: Resolved | None = None
    #: fingerprints of the files its params name (checkpoints, model directories, dataset
    #: roots; see :mod:`mmeval.fingerprints`): part of every cell id it enters
    inputs: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def name(self) -> str:
        return self.component.name

    def definition(self) -> dict[str, Any]:
        out = {"name": self.name, "params": identity(self.params)}
        if self.inputs:
            out["inputs"] = dict(self.inputs)
        if self.source is not None:
            out["source"] = self.source.definition()
        return out

    def build(self, **kwargs: Any) -> Any:
        """Instantiate the component (inside the plan's build context, see :func:`building`)."""
        return self.component.instantiate(self.params, **kwargs)


@dataclass(frozen=True)
class Task:
    """A dataset scored by an objective; ``index`` is its position among the plan's tasks."""

    dataset: Resolved
    objective: Resolved
    limit: int | None
    label: str
    index: int
    #: the label of the suite the task was expanded from (None: a task of its own)
    suite: str | None = None
    #: which samples ``limit`` keeps (see :func:`mmeval.data.select`)
    sampling: str = "stratified"

    @property
    def modality(self) -> str:
        """The signal the task's samples carry (``image`` or ``audio``), as its dataset declares."""
        return str(self.dataset.flags["modality"])


@dataclass(frozen=True)
class StageInfo:
    """A component a component's params name (a joint attack's text stage, a defense's classifier)."""

    field: str
    kind: str
    name: str
    modality: str | None
    stages: tuple[StageInfo, ...] = ()


@dataclass(frozen=True)
class CellInfo:
    """Everything the gates and reporters need to know about a cell, resolved once by ``plan()``
    and journaled with the cell."""

    label: str
    model: str
    defense: str
    task: str
    attack: str
    #: the attack's registry name (what eps curves are named after)
    attack_name: str
    objective_kind: str
    threat: ThreatModel
    role: Role
    #: the label of the model a transfer attack is crafted on (None: the cell's own model)
    source: str | None
    uses_gradients: bool
    #: the attack averages over the model's randomness (EOT), so a stochastic model is no flaw
    eot: bool
    #: cells with the same ``sweep`` differ only in eps (an eps sweep); None without eps
    sweep: str | None
    #: the attack without its source: transfer tables put one such attack's cells side by side
    attack_key: str
    stages: tuple[StageInfo, ...] = ()
    #: the suite the cell's task belongs to (its label; None: a task of its own)
    suite: str | None = None
    #: the language model a text attack proposes words with (None: no text attack)
    language_model: str | None = None
    #: the signal the task's samples carry (``image`` or ``audio``)
    modality: str = "image"

    @property
    def eps(self) -> float | None:
        """The signal budget in its own units ([0, 1] pixels, [-1, 1] amplitude); 0 for the
        clean cell; None without eps."""
        return 0.0 if self.role == "clean" else self.threat.eps

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CellInfo:
        def stage(d: dict[str, Any]) -> StageInfo:
            return StageInfo(**{**d, "stages": tuple(stage(s) for s in d["stages"])})

        return cls(**{**data, "threat": ThreatModel(**data["threat"]),
                      "stages": tuple(stage(s) for s in data["stages"])})


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
    info: CellInfo

    @property
    def label(self) -> str:
        return self.info.label

    def definition(self) -> dict[str, Any]:
        return {
            "model": self.model.definition(),
            "defense": self.defense.definition() if self.defense else None,
            "dataset": self.task.dataset.definition(),
            "objective": self.task.objective.definition(),
            "attack": self.attack.definition(),
        }


@dataclass(frozen=True)
class MetricPlan:
    """A resolved metric: its label, the instance, and what it declares."""

    label: str
    metric: Any
    scope: str
    objectives: tuple[str, ...] | None
    unit: str
    definition: str
    higher_is_better: bool | None = None

    def applies(self, kind: str, scope: str) -> bool:
        return self.scope == scope and (self.objectives is None or kind in self.objectives)

    def to_json(self) -> dict[str, Any]:
        """What results.json records of the metric."""
        objectives = None if self.objectives is None else list(self.objectives)
        return {"scope": self.scope, "objectives": objectives, "unit": self.unit,
                "definition": self.definition, "higher_is_better": self.higher_is_better}


@dataclass(frozen=True)
class Plan:
    """The run: the validated spec, the host every component is built from, the cells, the
    metrics and the planning warnings."""

    spec: EvalSpec
    host: PluginHost
    cells: tuple[Cell, ...]
    metrics: tuple[MetricPlan, ...]
    warnings: tuple[str, ...] = ()

    @property
    def run_dir(self) -> Path:
        return self.spec.resolved_output_dir()


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
    """``ref`` resolved against ``registry`` with validated params and its declared flags, its
    ``preflight`` passed; errors name ``path``."""
    comp = registry.get(kind, ref.name, f"{path}.name")
    comp.check_variant(f"{path}.name")
    params = comp.validate_params(ref.params, f"{path}.params")
    flags = {f: declared(comp, f, path) for f in FLAGS[kind]}
    flags |= {f: read(comp.declaration()) for f, read in LATER_FLAGS.get(kind, {}).items()}
    preflight(comp, params, f"{path}.params")
    extra = getattr(comp.declaration(), "inputs", None)
    return Resolved(comp, params, ref.label or label or _default_label(ref), path, flags,
                    inputs={**fingerprints.inputs(params), **(extra(params) if extra else {})})


def preflight(comp: Component, params: BaseModel, path: str) -> None:
    """Run the component's optional ``preflight(params)``: cheap checks that what it will read
    is there (a dataset's root, say), so a bad path fails at plan time with the field's path."""
    check = getattr(comp.declaration(), "preflight", None)
    if check is None:
        return
    try:
        check(params, **({"variant": comp.variant} if comp.variant is not None else {}))
    except IncompatibleComponentsError as exc:  # e.g. a component that never applies
        raise IncompatibleComponentsError(str(exc), path.removesuffix(".params")) from None
    except (DataError, ModelLoadError, MissingDependencyError) as exc:
        raise SpecError(str(exc), path) from None


def resolve_stages(registry: ComponentRegistry, owner: Resolved) -> tuple[StageInfo, ...]:
    """The stage tree of ``owner``'s params: every component field is resolved and validated at
    its path (recursively), and an attack stage's modality must be the one the field asks for."""
    out = []
    for name, ref, kind, needed in stages(owner.params):
        st = resolve_ref(registry, kind, ref, f"{owner.path}.params.{name}")
        modality = st.flags.get("modality")
        if kind == "attack" and needed is not None and modality != needed:
            raise IncompatibleComponentsError(
                f"'{st.name}' is a {modality} attack; this stage needs a {needed} attack",
                f"{st.path}.name")
        out.append(StageInfo(name, kind, st.name, modality, resolve_stages(registry, st)))
    return tuple(out)


def with_overrides(spec: EvalSpec, limit: int | None, device: str | None,
                   out: str | Path | None) -> EvalSpec:
    """``spec`` with the command line's ``--limit``, ``--device`` and ``--out`` applied."""
    if limit is None and device is None and out is None:
        return spec
    data = spec.canonical()
    if limit is not None:
        if limit < 1:
            raise SpecError(f"--limit must be >= 1, got {limit}", "limit")
        for task in data["tasks"]:
            task["limit"] = min(task["limit"] or limit, limit)
    if device is not None:
        data["run"]["device"] = device
    if out is not None:
        data["output_dir"] = str(out)
    return validate_spec(data)


def resolve_metrics(spec: EvalSpec, host: PluginHost) -> tuple[MetricPlan, ...]:
    """The spec's metrics, resolved and instantiated (also what ``mmeval report`` uses)."""
    out = []
    for i, ref in enumerate(spec.metrics):
        r = resolve_ref(host.registry, "metric", ref, f"metrics[{i}]", ref.label or ref.name)
        metric = r.build()
        doc = " ".join((type(metric).__doc__ or "").split())
        out.append(MetricPlan(r.label, metric, r.flags["scope"], r.flags["objectives"],
                              r.flags["unit"], doc, r.flags["higher_is_better"]))
    return tuple(out)


def plan(spec: EvalSpec | dict[str, Any], host: PluginHost | None = None, *,
         limit: int | None = None, device: str | None = None,
         out: str | Path | None = None) -> Plan:
    """Validate ``spec`` completely (with the command line's overrides) and expand it into cells;
    raises SpecError with a field path."""
    spec = with_overrides(validate_spec(spec), limit, device, out)
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
            if d.flags["kind"] == "weights" and not d.params.checkpoint:  # type: ignore[attr-defined]
                raise SpecError("a weight defense is evaluated from the checkpoint `mmeval train` "
                                "wrote with it; pass that path", f"{d.path}.params.checkpoint")
    tasks = expand_tasks(spec, registry)
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
    trees = {a.path: resolve_stages(registry, a) for a in attacks}
    metrics = resolve_metrics(spec, host)

    warnings: list[str] = []
    with building(host):  # read inside: a joint attack's declaration reads its stages' too
        declared = {a.path: _declared_facts(a.component.declare(a.params)) for a in attacks}
    _check_compatibility(models, defenses, tasks, attacks, declared, warnings)

    salt = {"seed": spec.run.seed, "precision": spec.run.precision}
    cells: list[Cell] = []
    seen: dict[str, str] = {}
    for mi, model in enumerate(models):
        for defense in defenses[mi]:
            for task in tasks:
                group_def = {"model": model.definition(),
                             "defense": defense.definition() if defense else None,
                             "dataset": task.dataset.definition(),
                             "objective": task.objective.definition(),
                             "sampling": task.sampling, **salt}
                group = "g-" + stable_hash(group_def, 12)
                for attack in attacks:
                    if not applies(declared[attack.path].threat, task):
                        continue
                    cid = "c-" + stable_hash({**group_def, "attack": attack.definition()}, 12)
                    where = f"{model.path} x {task.dataset.path} x {attack.path}"
                    if cid in seen:
                        raise SpecError(f"this combination duplicates {seen[cid]}; remove one",
                                        where)
                    seen[cid] = where
                    info = _describe(group, model, defense, task, attack, declared[attack.path],
                                     trees[attack.path])
                    cells.append(Cell(cid, group, model, mi, defense, task, attack, info))
                    _check_language_model(info, task, warnings)
    return Plan(spec, host, tuple(cells), metrics, tuple(warnings))


def applies(threat: ThreatModel, task: Task) -> bool:
    """Whether an attack of ``threat`` has a cell on ``task``: one that perturbs a signal only on
    the tasks that carry it (an audio PGD skips the image tasks of a spec, and vice versa)."""
    signal = signal_of(threat.modality)
    return signal is None or signal == task.modality


def check_serves(dataset: Resolved, objective: Resolved) -> None:
    """IncompatibleComponentsError unless ``dataset`` serves ``objective``'s kind."""
    kind, served = objective.flags["kind"], dataset.flags["objectives"]
    if kind not in served:
        raise IncompatibleComponentsError(
            f"dataset '{dataset.name}' ({dataset.path}) serves objectives of kind "
            f"{list(served)}, but '{objective.name}' is of kind '{kind}'; pick a "
            f"{' or '.join(served)} objective", objective.path)


def expand_tasks(spec: EvalSpec, registry: ComponentRegistry) -> list[Task]:
    """The spec's tasks, each suite expanded into one task per member dataset. Every member is
    resolved (its params validated, e.g. its root checked); the members that fail are reported
    together, so one run of ``mmeval validate`` lists every missing root."""
    found: list[tuple[Resolved, Resolved, int | None, str, str | None, str]] = []
    for i, t in enumerate(spec.tasks):
        objective = resolve_ref(registry, "objective", t.objective, f"tasks[{i}].objective")
        if t.dataset is not None:
            dataset = resolve_ref(registry, "dataset", t.dataset, f"tasks[{i}].dataset")
            check_serves(dataset, objective)
            found.append((dataset, objective, t.limit, t.label or t.dataset.label or
                          _default_label(t.dataset), None, t.sampling))
            continue
        assert t.suite is not None
        suite = resolve_ref(registry, "suite", t.suite, f"tasks[{i}].suite")
        kind, needed = objective.flags["kind"], suite.flags["objective_kind"]
        if kind != needed:
            raise IncompatibleComponentsError(
                f"suite '{suite.name}' holds {needed} datasets, but objective "
                f"'{objective.name}' is of kind '{kind}'; pick a {needed} objective",
                f"tasks[{i}].objective")
        label = t.label or t.suite.label or t.suite.name
        failed: list[str] = []
        members = list(suite.build().datasets())
        for m in members:
            ref = ComponentRef(name=m.dataset, params=dict(m.params))
            try:
                dataset = resolve_ref(registry, "dataset", ref, f"tasks[{i}].suite[{m.label}]")
                check_serves(dataset, objective)
            except SpecError as exc:
                failed.append(f"  - {exc}")
                continue
            found.append((dataset, objective, t.limit, m.label, label, t.sampling))
        if failed:
            raise SpecError(f"{len(failed)} of the {len(members)} datasets of suite '{label}' "
                            "cannot be used:\n" + "\n".join(failed), f"tasks[{i}].suite")
    labels = _unique([f[3] for f in found])
    return [Task(d, o, limit, labels[k], k, suite, sampling)
            for k, (d, o, limit, _, suite, sampling) in enumerate(found)]


@dataclass(frozen=True)
class AttackFacts:
    """What an attack's declaration, made from its params, declares."""

    threat: ThreatModel
    eot: bool
    language_model: str | None


def _declared_facts(declaration: Any) -> AttackFacts:
    return AttackFacts(declaration.threat_model, bool(declaration.eot),
                       getattr(declaration, "language_model", None))


def _describe(group: str, model: Resolved, defense: Resolved | None, task: Task,
              attack: Resolved, facts: AttackFacts, tree: tuple[StageInfo, ...]) -> CellInfo:
    threat = facts.threat
    flags = attack.flags
    role: Role = ("clean" if flags["noop"] else "transfer" if attack.source is not None
                  else "adaptive" if flags["adaptive"] else "white-box")
    crafting = {"name": attack.name, "params": identity(attack.params)}
    sweep = None
    if threat.eps is not None and role != "clean":
        swept = {k: v for k, v in crafting["params"].items() if k != "eps"}
        sweep = "s-" + stable_hash({"group": group, "name": attack.name, "params": swept,
                                    "source": attack.source and attack.source.definition()}, 12)
    defense_label = defense.label if defense else "none"
    return CellInfo(
        label=f"{model.label} | {defense_label} | {task.label} | {attack.label}",
        model=model.label, defense=defense_label, task=task.label, attack=attack.label,
        attack_name=attack.name, objective_kind=task.objective.flags["kind"], threat=threat,
        role=role, source=attack.source.label if attack.source else None,
        uses_gradients=flags["uses_gradients"], eot=facts.eot, sweep=sweep,
        attack_key="a-" + stable_hash(crafting, 12), stages=tree, suite=task.suite,
        language_model=facts.language_model, modality=task.modality)


def _check_language_model(info: CellInfo, task: Task, warnings: list[str]) -> None:
    """Warn when a text attack proposes words with a zoo language model fit only for another
    domain's captions (the zoo's shapes MLM on real data)."""
    from .zoo import entry_named

    lm = info.language_model or ""
    entry = entry_named(lm)
    if entry is None or entry.domain is None:
        return
    if getattr(task.dataset.component.declaration(), "domain", None) == entry.domain:
        return
    text = (f"{info.attack} on {task.label}: the words are proposed by {lm}, a masked LM trained "
            f"only on the {entry.domain} world's captions, so its substitutions are not real "
            "language; pass the attack an mlm= trained on real text (a local directory or a "
            "cached Hugging Face id)")
    if text not in warnings:
        warnings.append(text)


def _check_compatibility(
    models: list[Resolved],
    defenses: list[list[Resolved | None]],
    tasks: list[Task],
    attacks: list[Resolved],
    declared: dict[str, AttackFacts],
    warnings: list[str],
) -> None:
    for task in tasks:
        for model in models:
            caps = model.flags["capabilities"]
            if task.modality not in caps:
                raise IncompatibleComponentsError(
                    f"task '{task.label}' carries {task.modality}, but model '{model.name}' "
                    f"({model.path}) encodes only {sorted(caps)}; drop the model or the task",
                    task.dataset.path)
    carried = sorted({t.modality for t in tasks})
    for attack in attacks:
        supported = attack.flags["objectives"]
        modality = declared[attack.path].threat.modality
        signal = signal_of(modality)
        for task in tasks:
            kind = task.objective.flags["kind"]
            if supported is not None and kind not in supported:
                raise IncompatibleComponentsError(
                    f"attack '{attack.name}' supports objectives of kind {list(supported)}, but "
                    f"{task.objective.path} '{task.objective.name}' is of kind '{kind}'; "
                    f"drop the attack or the task", attack.path)
        if signal is not None and signal not in carried:
            raise IncompatibleComponentsError(
                f"attack '{attack.name}' perturbs {signal}, but the tasks carry only "
                f"{' and '.join(carried)}; give the attack modality: {carried[0]!r} (where it "
                "takes one)", attack.path)
        for model in [*models, *([attack.source] if attack.source else [])]:
            caps = model.flags["capabilities"]
            needed = {m for m in modality.split("+") if m != "none"}
            if not needed <= set(caps):
                raise IncompatibleComponentsError(
                    f"attack '{attack.name}' perturbs {modality}, but model '{model.name}' "
                    f"({model.path}) only has capabilities {sorted(caps)}", attack.path)
    gradient_attacks = [a for a in attacks if a.flags["uses_gradients"]]
    for opts in defenses:
        for d in opts:
            if d is None:
                continue
            if gradient_attacks and (d.flags["stochastic"] or not d.flags["differentiable"]):
                warnings.append(
                    f"{d.path} '{d.name}' is stochastic or non-differentiable; gradient attacks "
                    f"({', '.join(a.label for a in gradient_attacks)}) may overestimate robustness "
                    f"without EOT/BPDA or an adaptive attack")

