"""PluginHost: the built-ins plus every ``mmeval`` entry point, registered through the same hooks.

``MMEVAL_DISABLE_PLUGINS=a,b`` skips plugins by entry-point or distribution name. A plugin that
fails to import, or whose registration hook raises, is reported with its distribution and the
others still load.
"""

from __future__ import annotations

import difflib
import importlib
import os
import warnings
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Literal

import pluggy

from . import hookspecs
from .errors import PluginLoadError, StoreError
from .registry import ComponentRegistry

ENTRY_POINT_GROUP = "mmeval"
DISABLE_ENV = "MMEVAL_DISABLE_PLUGINS"


@dataclass(frozen=True)
class PluginInfo:
    name: str
    distribution: str
    version: str
    status: Literal["loaded", "disabled", "failed"]
    error: str | None = None


def _disabled() -> set[str]:
    return {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}


class PluginHost:
    """Owns the pluggy manager and the component registry built from it."""

    def __init__(self, *, load_entry_points: bool = True) -> None:
        from . import __version__, builtins
        from .reporters import BUILTIN as REPORTERS

        self.pm = pluggy.PluginManager("mmeval")
        self.pm.add_hookspecs(hookspecs)
        self._infos: dict[str, PluginInfo] = {}
        self._registry: ComponentRegistry | None = None
        self.failures: list[PluginLoadError] = []
        self._warned: set[tuple[str, str]] = set()
        self.register(builtins, "mmeval", distribution="mmeval", version=__version__)
        for name, module in REPORTERS:
            self.register(importlib.import_module(module), name, distribution="mmeval",
                          version=__version__)
        if load_entry_points:
            self._load_entry_points()

    def register(
        self, plugin: Any, name: str, *, distribution: str | None = None, version: str = ""
    ) -> None:
        """Register a plugin object (module or instance with ``@hookimpl`` methods) under ``name``.
        A hook implementation whose name no hook has (a misspelling) fails the plugin, with the
        closest hook names."""
        dist = distribution or name
        unknown = [attr for attr in dir(plugin) if attr.startswith("mmeval_")
                   and hasattr(getattr(plugin, attr, None), "mmeval_impl")
                   and not hasattr(hookspecs, attr)]
        self._registry = None
        if unknown:
            hooks = [h for h in dir(hookspecs) if h.startswith("mmeval_")]
            why = "; ".join(f"'{u}' is no mmeval hook" + "".join(
                f" (did you mean '{c}'?)" for c in difflib.get_close_matches(u, hooks, n=1))
                for u in unknown)
            self._fail(name, dist, version, f"implements unknown hooks: {why}")
            return
        self.pm.register(plugin, name=name)
        self._infos[name] = PluginInfo(name, dist, version, "loaded")

    def _load_entry_points(self) -> None:
        disabled = _disabled()
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else ""
            if ep.name in disabled or dist in disabled:
                self._infos[ep.name] = PluginInfo(ep.name, dist, version, "disabled")
                continue
            try:
                plugin = ep.load()
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # any import failure of a third-party plugin, exits too
                self._fail(ep.name, dist, version, f"failed to import: {type(exc).__name__}: {exc}")
                continue
            self.register(plugin, ep.name, distribution=dist, version=version)

    def _fail(self, name: str, dist: str, version: str, why: str) -> None:
        err = PluginLoadError(f"plugin '{name}' (distribution {dist} {version}) {why}")
        self.failures.append(err)
        self._infos[name] = PluginInfo(name, dist, version, "failed", str(err))
        warnings.warn(str(err), RuntimeWarning, stacklevel=3)

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def create(self, kind: str, name: str, params: dict[str, Any]) -> Any:
        """Build the component ``kind``/``name`` with ``params`` from this host's registry; its
        stages are built from this host too (inside :func:`~mmeval.building`)."""
        from .attacks.compose import building

        with building(self):
            return self.registry.get(kind, name).build(params)  # type: ignore[arg-type]

    def notify(self, hook_name: str, event: Any) -> None:
        """Call every implementation of the observer hook ``hook_name`` with ``event``. An
        observer that raises is reported once per plugin and hook in a warning naming it, and
        nothing else changes: the others still run and the caller goes on. A StoreError (an
        output that cannot be written: a full or read-only disk, a link in the run directory)
        ends the call, as a journal write failure does."""
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            try:
                impl.function(event=event)
            except (KeyboardInterrupt, StoreError):
                raise
            except BaseException as exc:  # SystemExit included: an observer never ends the run
                if (impl.plugin_name, hook_name) not in self._warned:
                    self._warned.add((impl.plugin_name, hook_name))
                    warnings.warn(f"plugin '{impl.plugin_name}' raised in {hook_name} "
                                  f"({type(exc).__name__}: {exc}); its observer is skipped, the "
                                  "run's results are unaffected", RuntimeWarning, stacklevel=2)

    @property
    def registry(self) -> ComponentRegistry:
        """The registry, built on first use by calling every plugin's registration hooks."""
        if self._registry is None:
            self._registry = self._build_registry()
        return self._registry

    def _build_registry(self) -> ComponentRegistry:
        registry = ComponentRegistry()
        broken: set[str] = set()
        for kind, hook_name in hookspecs.REGISTER_HOOKS.items():
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                if impl.plugin_name in broken:
                    continue
                try:
                    impl.function(registry=registry.view(kind, impl.plugin_name))
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:
                    info = self._infos[impl.plugin_name]
                    broken.add(impl.plugin_name)
                    self._fail(info.name, info.distribution, info.version,
                               f"raised in {hook_name}: {type(exc).__name__}: {exc}")
        registry.failed = [(i.name, i.error or "") for i in self._infos.values()
                           if i.status == "failed"]
        return registry

    def plugins(self) -> list[PluginInfo]:
        """Every plugin seen, with its distribution, version and status (built-ins first)."""
        self.registry  # noqa: B018 - registration failures show up in the statuses
        return sorted(self._infos.values(), key=lambda i: (i.name != "mmeval", i.name))

    def versions(self) -> dict[str, str]:
        return {i.distribution: i.version for i in self.plugins() if i.status == "loaded"}


_default: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide host (built on first call)."""
    global _default
    if _default is None:
        _default = PluginHost()
    return _default
