"""Every pluggy hook mmeval calls. Plugins implement them with ``@mmeval.hookimpl``.

Registration hooks are called once per plugin when the registry is first needed, each with a
:class:`~mmeval.registry.KindRegistry` whose ``add(name, target, params=..., aliases=...)`` records
the plugin as the component's origin. Observer hooks are called in the main process only (rank 0
under torchrun), with a frozen event object, through :meth:`~mmeval.plugins.PluginHost.notify`:
an observer that raises is reported in one warning naming its plugin and changes nothing else (no
cell's status, no other observer).
Reporters are observers of ``mmeval_report``; the built-in ones write results.json, report.md and
report.html.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .registry import KindRegistry
    from .results import Results

hookspec = pluggy.HookspecMarker("mmeval")
hookimpl = pluggy.HookimplMarker("mmeval")


@dataclass(frozen=True)
class RunStartEvent:
    run_dir: Path
    spec: dict[str, Any]
    cell_ids: tuple[str, ...]


@dataclass(frozen=True)
class BatchEndEvent:
    """``done`` of ``total`` samples of the cell are journaled (under torchrun: rank 0's batches
    times the world size, capped at ``total``, an estimate); ``batch_size`` samples took
    ``seconds`` on rank 0."""

    run_dir: Path
    cell_id: str
    done: int
    total: int
    batch_size: int
    seconds: float


@dataclass(frozen=True)
class CellEndEvent:
    run_dir: Path
    cell_id: str
    label: str
    status: str
    error: str | None


@dataclass(frozen=True)
class RunEndEvent:
    run_dir: Path
    results: Results


@dataclass(frozen=True)
class ReportEvent:
    """The typed results of the run in ``run_dir`` (``results.to_json()`` is results.json)."""

    run_dir: Path
    results: Results


@hookspec
def mmeval_register_models(registry: KindRegistry) -> None:
    """Register VLModel factories: ``target(params) -> VLModel``. Called when the registry is built."""


@hookspec
def mmeval_register_attacks(registry: KindRegistry) -> None:
    """Register Attack classes: ``target(params)`` -> a callable attack. Called when the registry is built."""


@hookspec
def mmeval_register_defenses(registry: KindRegistry) -> None:
    """Register Defense classes: ``target(params)`` -> a Defense. Called when the registry is built."""


@hookspec
def mmeval_register_objectives(registry: KindRegistry) -> None:
    """Register Objective classes: ``target(params)`` -> a fresh Objective (one per cell)."""


@hookspec
def mmeval_register_datasets(registry: KindRegistry) -> None:
    """Register Dataset factories: ``target(params) -> Dataset``. Called when the registry is built."""


@hookspec
def mmeval_register_suites(registry: KindRegistry) -> None:
    """Register Suite classes: ``target(params)`` -> a Suite, whose ``datasets()`` name the datasets
    a spec's suite task expands into at plan time (one task per dataset)."""


@hookspec
def mmeval_register_metrics(registry: KindRegistry) -> None:
    """Register Metric classes: ``target(params)`` -> a Metric computed from stored records."""


@hookspec
def mmeval_run_start(event: RunStartEvent) -> None:
    """Called once before the first cell runs (also on resume), after the journal is opened."""


@hookspec
def mmeval_batch_end(event: BatchEndEvent) -> None:
    """Called after each batch's records are committed to the journal."""


@hookspec
def mmeval_cell_end(event: CellEndEvent) -> None:
    """Called when a cell completes or fails (``status`` is ``done`` or ``failed``)."""


@hookspec
def mmeval_report(event: ReportEvent) -> None:
    """Render the results into the run directory (a reporter: results.json, report.md and
    report.html are built-in ones). Called at the end of a run and by ``mmeval report``."""


@hookspec
def mmeval_run_end(event: RunEndEvent) -> None:
    """Called once at the end of a run, after the reporters, with the typed results."""


REGISTER_HOOKS: dict[str, str] = {
    "model": "mmeval_register_models",
    "attack": "mmeval_register_attacks",
    "defense": "mmeval_register_defenses",
    "objective": "mmeval_register_objectives",
    "dataset": "mmeval_register_datasets",
    "suite": "mmeval_register_suites",
    "metric": "mmeval_register_metrics",
}
