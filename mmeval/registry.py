"""Component registry: name -> lazy ``"module:attr"`` target + pydantic ``Params`` model.

Targets are imported only when a component is built, so listing components stays cheap and a
component whose heavy dependency is missing does not break the others. A component may name a
*declaration* (``declared=``): a light class, importing neither torch nor a model library, that
carries its ``Params``, its capability flags, its optional ``preflight`` / ``check_variant`` and,
for an attack, the threat model an instance made from its params declares. ``plan()`` reads the
declaration only, so ``mmeval validate`` never imports the heavy target; without one, the target
is its own declaration.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import DuplicateComponentError, MissingDependencyError, SpecError, UnknownComponentError

Kind = Literal["model", "attack", "defense", "objective", "dataset", "suite", "metric"]
KINDS: tuple[Kind, ...] = get_args(Kind)


#: ``json_schema_extra`` of a params field naming a file or directory the component reads: its
#: content fingerprint enters every cell id (new weights at the same path make new cells)
INPUT: dict[str, Any] = {"fingerprint": "content"}
#: ... of a field naming a dataset root, fingerprinted by its listing (names, sizes, mtimes)
INPUT_LISTING: dict[str, Any] = {"fingerprint": "listing"}


#: ``json_schema_extra`` of a param added to a component after cells were journaled with it: the
#: param enters the component's identity (cell ids, hence seeds) only when it differs from its
#: default, so an existing spec keeps its cells, records and resumable journal
ADDED: dict[str, Any] = {"identity": "when-set"}


class Params(BaseModel):
    """Base for component params: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def identity(self) -> dict[str, Any]:
        """The params as they enter cell ids: every value, except the :data:`ADDED` params that
        hold their default."""
        data = self.model_dump(mode="json")
        for name, info in type(self).model_fields.items():
            if (info.json_schema_extra == ADDED
                    and getattr(self, name) == info.get_default(call_default_factory=True)):
                data.pop(name, None)
        return data


def identity(params: BaseModel) -> dict[str, Any]:
    """``params.identity()`` for :class:`Params`, the JSON dump of any other model."""
    return params.identity() if isinstance(params, Params) else params.model_dump(mode="json")


class NoParams(Params):
    """For components without parameters."""


@dataclass
class Component:
    """One registered component. ``target`` is an object or a lazy ``"module:attr"`` string."""

    kind: Kind
    name: str
    target: Any
    origin: str
    params: type[BaseModel] | str | None = None
    aliases: tuple[str, ...] = ()
    description: str = ""
    #: for a family registered as ``prefix/*``: the part of the requested name after the prefix
    variant: str | None = None
    #: the light class declaring what the target is (None: the target itself)
    declared: Any = None
    _loaded: Any = field(default=None, repr=False)

    def load(self) -> Any:
        """Import (once) and return the target."""
        if self._loaded is None:
            self._loaded = _import(self.target, f"{self.kind} '{self.name}' from {self.origin}")
        return self._loaded

    def declaration(self) -> Any:
        """The class declaring the component's params, flags and checks (imported on use)."""
        if self.declared is None:
            return self.load()
        return _import(self.declared, f"declaration of {self.kind} '{self.name}'")

    def declare(self, params: BaseModel) -> Any:
        """The declaration made from already-validated params: for an attack, what ``plan()``
        reads the threat model from (the target itself when there is no declaration)."""
        kwargs = {"variant": self.variant} if self.variant is not None else {}
        return self.declaration()(params, **kwargs)

    def params_model(self) -> type[BaseModel]:
        if self.params is not None:
            return _import(self.params, f"params of {self.kind} '{self.name}'")
        return getattr(self.declaration(), "Params", NoParams)

    def validate_params(self, raw: dict[str, Any] | BaseModel, path: str) -> BaseModel:
        """Validate ``raw`` against the Params model; errors carry ``path`` (e.g. ``attacks[1].params``)."""
        model = self.params_model()
        if isinstance(raw, model):
            return raw
        if isinstance(raw, BaseModel):
            raw = raw.model_dump()
        try:
            validated = model.model_validate(raw)
        except ValidationError as exc:
            raise spec_error_from(exc, path, f"`mmeval describe {self.name}` lists its params") \
                from None
        check_magnitudes(validated.model_dump(), path)
        return validated

    def instantiate(self, params: BaseModel, **kwargs: Any) -> Any:
        """Call the target with already-validated params (and the variant, for a family)."""
        if self.variant is not None:
            kwargs["variant"] = self.variant
        return self.load()(params, **kwargs)

    def build(self, params: BaseModel | dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """Validate ``params`` and instantiate the target."""
        p = self.validate_params(params or {}, f"{self.kind} '{self.name}' params")
        return self.instantiate(p, **kwargs)

    def check_variant(self, path: str) -> None:
        """For a family member, let the target reject an unknown variant (``check_variant``)."""
        check = getattr(self.declaration(), "check_variant", None)
        if self.variant is not None and check is not None:
            try:
                check(self.variant)
            except ValueError as exc:
                raise SpecError(str(exc), path) from None

    @property
    def summary(self) -> str:
        if self.description:
            return self.description
        # a declaration is light by contract, so reading its docstring imports nothing heavy
        loaded = self._loaded if self.declared is None else self.declaration()
        doc = getattr(loaded, "__doc__", None) if loaded is not None else None
        return (doc or "").strip().split("\n")[0]


def _import(target: Any, what: str) -> Any:
    if not isinstance(target, str):
        return target
    module_name, _, attr = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{what} needs '{module_name}', which failed to import ({exc}); install the missing "
            f"package or disable the plugin with MMEVAL_DISABLE_PLUGINS"
        ) from exc
    for part in filter(None, attr.split(".")):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise MissingDependencyError(f"{what}: '{target}' has no attribute '{part}'") from None
    return obj


def format_path(loc: Sequence[str | int]) -> str:
    """``("attacks", 1, "params", "eps")`` -> ``attacks[1].params.eps``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


#: the largest integer magnitude any params field takes (beyond it, int64 and JSON numbers break)
MAX_INT = 2**53


def walk(data: Any, root: str = "") -> Iterator[tuple[Any, int, str]]:
    """Every value in ``data`` and the dicts, lists and tuples nested in it, depth first, with its
    depth and field path (``root.key[index]``), without recursion: any depth is safe."""
    stack: list[tuple[Any, int, str]] = [(data, 0, root)]
    while stack:
        item, depth, where = stack.pop()
        yield item, depth, where
        if isinstance(item, dict):
            stack += [(v, depth + 1, f"{where}.{k}") for k, v in item.items()]
        elif isinstance(item, list | tuple):
            stack += [(v, depth + 1, f"{where}[{i}]") for i, v in enumerate(item)]


def check_magnitudes(data: Any, path: str) -> None:
    """SpecError at the field of the first integer beyond +-2**53 in validated ``data``."""
    for item, _, where in walk(data, path):
        if isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_INT:
            raise SpecError(f"{item} is out of range (at most 2**53 in magnitude)", where)


def spec_error_from(exc: ValidationError, prefix: str = "", hint: str = "") -> SpecError:
    """Turn a pydantic error into a SpecError whose path is the first failing field (``hint``:
    where to look up the valid fields)."""
    err = exc.errors()[0]
    loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    path = format_path(loc)
    if prefix:
        path = f"{prefix}.{path}" if path else prefix
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = ("unknown field; remove it or check the spelling ("
               + (hint or "docs/spec-reference.md lists every field") + ")")
    elif "input" in err and err["type"] != "missing":
        msg = f"{msg} (got {err['input']!r})"
    if hint and err["type"] != "extra_forbidden":
        msg = f"{msg}; {hint}"
    more = len(exc.errors()) - 1
    return SpecError(msg + (f" [+{more} more error(s)]" if more else ""), path or None)


#: origins whose names may go without a namespace: the core's built-ins
CORE_ORIGINS = frozenset({"mmeval"})


class KindRegistry:
    """The view of the registry a ``mmeval_register_<kind>s`` hook receives."""

    def __init__(self, registry: ComponentRegistry, kind: Kind, origin: str) -> None:
        self._registry, self.kind, self.origin = registry, kind, origin

    def add(
        self,
        name: str,
        target: Any,
        *,
        params: type[BaseModel] | str | None = None,
        aliases: Sequence[str] = (),
        description: str = "",
        declared: Any = None,
    ) -> None:
        """Register ``name`` -> ``target`` (an object or ``"module:attr"``). ``declared`` (same
        forms) names a light class declaring the component (its ``Params``, flags and checks;
        see the module docstring) so planning never imports ``target``; ``params`` defaults to the
        declaration's ``Params`` attribute, looked up lazily. A name ending in ``/*`` registers a
        family: ``prefix/anything`` resolves to it and the target gets ``variant="anything"``.
        A plugin's names carry a namespace (``<namespace>/<name>``); only the core's may not."""
        if "/" not in name and self.origin not in CORE_ORIGINS:
            raise ValueError(f"{self.kind} name '{name}' has no namespace; register it as "
                             f"'{self.origin}/{name}' (names are <namespace>/<name>)")
        self._registry.add(
            Component(self.kind, name, target, self.origin, params, tuple(aliases), description,
                      declared=declared)
        )


class ComponentRegistry:
    """All components of all plugins, by kind and name (aliases resolve to the same component)."""

    def __init__(self) -> None:
        self._by_kind: dict[str, dict[str, Component]] = {k: {} for k in KINDS}
        self._names: dict[str, dict[str, Component]] = {k: {} for k in KINDS}
        self._families: dict[str, dict[str, Component]] = {k: {} for k in KINDS}
        #: names two plugins registered: unusable (an error naming both when a spec uses one)
        self.conflicts: dict[tuple[str, str], list[Component]] = {}
        self._shadowed: list[Component] = []
        #: plugins that failed to load (name, why): unknown names may be theirs
        self.failed: list[tuple[str, str]] = []

    def add(self, comp: Component, replace: bool = False) -> None:
        """Register ``comp``. A name another plugin already took stays listed under both origins
        and is an error only when used (``replace``: the new one wins, for model objects)."""
        names = self._names[comp.kind]
        clash = [n for n in (comp.name, *comp.aliases) if n in names]
        if clash and not replace:
            for n in clash:
                self.conflicts.setdefault((comp.kind, n), [names[n]]).append(comp)
            self._shadowed.append(comp)
            return
        self._by_kind[comp.kind][comp.name] = comp
        for n in (comp.name, *comp.aliases):
            names[n] = comp
            if n.endswith("/*"):
                self._families[comp.kind][n[:-1]] = comp

    def view(self, kind: Kind, origin: str) -> KindRegistry:
        return KindRegistry(self, kind, origin)

    def get(self, kind: Kind, name: str, path: str | None = None) -> Component:
        if (kind, name) in self.conflicts:
            both = self.conflicts[(kind, name)]
            origins = " and ".join(f"'{c.origin}' (as '{c.name}')" for c in both)
            raise DuplicateComponentError(
                f"{path + ': ' if path else ''}{kind} name '{name}' is registered by {origins}; "
                "disable one plugin with MMEVAL_DISABLE_PLUGINS=<plugin>")
        if name in self._names[kind]:
            return self._names[kind][name]
        for prefix, family in self._families[kind].items():
            if name.startswith(prefix) and len(name) > len(prefix):
                return replace(family, name=name, variant=name[len(prefix):])
        close = difflib.get_close_matches(name, list(self._names[kind]), n=3, cutoff=0.5)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        raise UnknownComponentError(
            f"unknown {kind} '{name}'; {hint}see `mmeval list {kind}s` for what is available"
            + self._failed_note(), path)

    def _failed_note(self) -> str:
        if not self.failed:
            return ""
        return (f"; it may belong to a plugin that failed to load: "
                f"{', '.join(name for name, _ in self.failed)} (see `mmeval plugins`)")

    def lookup(self, name: str) -> list[Component]:
        """Every component named ``name``, of any kind; UnknownComponentError with close names
        if there is none."""
        found = []
        for kind in KINDS:
            try:
                found.append(self.get(kind, name))
            except UnknownComponentError:
                continue
        if not found:
            names = [n for kind in KINDS for n in self._names[kind]]
            close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
            hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
            raise UnknownComponentError(f"no component is named '{name}'; {hint}see `mmeval list`")
        return found

    def components(self, kind: Kind) -> list[Component]:
        """Every component of ``kind`` by name, both sides of a name conflict included."""
        shadowed = [c for c in self._shadowed if c.kind == kind]
        return sorted([*self._by_kind[kind].values(), *shadowed], key=lambda c: (c.name, c.origin))

    def __iter__(self) -> Iterator[Component]:
        for kind in KINDS:
            yield from self.components(kind)

    def __contains__(self, key: tuple[Kind, str]) -> bool:
        kind, name = key
        return name in self._names[kind]

