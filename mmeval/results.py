"""The typed results of a run, computed from the journal alone (records, the cell descriptions
``plan()`` journaled, the model gates) and the plan's metrics, so ``mmeval report RUN_DIR`` can
recompute them anywhere without a model. Reporters render from :class:`Results`;
``Results.to_json()`` is the content of results.json."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import StoreError
from .planning import CellInfo, MetricPlan
from .spec import ChecksSettings
from .store import Store
from .types import MetricValue

RESULTS_VERSION = 1


@dataclass(frozen=True)
class CellResult:
    """One cell: its description, status, sample counts, gate verdicts and metrics."""

    id: str
    group: str
    info: CellInfo
    definition: dict[str, Any]
    status: str
    error: str | None
    n: int
    total: int
    flagged: int
    failed_checks: tuple[str, ...]
    metrics: dict[str, MetricValue]

    @property
    def reliable(self) -> bool:
        return not self.failed_checks

    def to_json(self) -> dict[str, Any]:
        i = self.info
        return {
            "id": self.id, "group": self.group, "label": i.label, "model": i.model,
            "defense": i.defense, "task": i.task, "suite": i.suite, "attack": i.attack,
            "language_model": i.language_model,
            "objective_kind": i.objective_kind, "role": i.role, "source": i.source,
            "eps": i.eps, "definition": self.definition, "status": self.status,
            "error": self.error, "n": self.n, "total": self.total, "flagged": self.flagged,
            "reliable": self.reliable, "failed_checks": list(self.failed_checks),
            "metrics": {k: v.as_dict() for k, v in self.metrics.items()},
        }


@dataclass(frozen=True)
class GroupResult:
    """The worst case over the attacks of one model x defense x task (group-scope metrics)."""

    id: str
    model: str
    defense: str
    task: str
    objective_kind: str
    cells: tuple[str, ...]
    metrics: dict[str, MetricValue]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "model": self.model, "defense": self.defense, "task": self.task,
                "attack": "worst case over attacks", "objective_kind": self.objective_kind,
                "cells": list(self.cells),
                "metrics": {k: v.as_dict() for k, v in self.metrics.items()}}


@dataclass(frozen=True)
class Results:
    spec: dict[str, Any]
    spec_hash: str
    versions: dict[str, str]
    environment: dict[str, Any]
    seed: int
    warnings: tuple[str, ...]
    metric_definitions: dict[str, MetricPlan]
    cells: tuple[CellResult, ...]
    groups: tuple[GroupResult, ...]
    checks: tuple[dict[str, Any], ...]

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    @property
    def unreliable(self) -> list[str]:
        return sorted(c.id for c in self.cells if not c.reliable)

    def to_json(self) -> dict[str, Any]:
        return {
            "mmeval_results": RESULTS_VERSION,
            "spec": self.spec,
            "spec_hash": self.spec_hash,
            "versions": self.versions,
            "environment": self.environment,
            "seed": self.seed,
            "warnings": list(self.warnings),
            "metric_definitions": {k: v.to_json() for k, v in self.metric_definitions.items()},
            "cells": [c.to_json() for c in self.cells],
            "groups": [g.to_json() for g in self.groups],
            "checks": list(self.checks),
            "unreliable": self.unreliable,
        }


def build_results(store: Store, metrics: Sequence[MetricPlan]) -> Results:
    """Recompute every metric of the latest run recorded in ``store``."""
    meta = store.meta()
    spec = meta["spec"]
    rows = store.cells(meta["cells"])
    stale = [row["cell_id"] for row in rows if row["info"] is None]
    if stale:
        raise StoreError(f"'{store.path}' was written by an older mmeval and holds no description "
                         f"of {len(stale)} cell(s); re-run the spec into this directory (nothing "
                         "is recomputed) to record them")
    from . import checks  # the record gates read tensors: imported when results are built

    infos = {row["cell_id"]: CellInfo.from_json(row["info"]) for row in rows}
    journaled = {row["cell_id"]: store.records(row["cell_id"]) for row in rows}
    settings = ChecksSettings.model_validate(spec["run"].get("checks", {}))
    gates = [g for g in store.checks() if set(g["cells"]) & set(journaled)]
    gates += checks.record_gates([(row["cell_id"], infos[row["cell_id"]]) for row in rows],
                                 journaled, settings)
    failed = checks.verdicts(gates)
    cells: list[CellResult] = []
    members: dict[str, list[CellResult]] = {}
    for row in rows:
        info = infos[row["cell_id"]]
        records = checks.scored(journaled[row["cell_id"]])
        cell = CellResult(
            row["cell_id"], row["grp"], info, row["definition"], row["status"], row["error"],
            len(records), row["total"], len(journaled[row["cell_id"]]) - len(records),
            tuple(failed.get(row["cell_id"], [])),
            {m.label: m.metric.compute(records) for m in metrics
             if m.applies(info.objective_kind, "cell")})
        cells.append(cell)
        members.setdefault(cell.group, []).append(cell)
    groups = []
    for gid, group_cells in members.items():
        first = group_cells[0].info
        records = [r for c in group_cells for r in checks.scored(journaled[c.id])]
        groups.append(GroupResult(
            gid, first.model, first.defense, first.task, first.objective_kind,
            tuple(c.id for c in group_cells),
            {m.label: m.metric.compute(records) for m in metrics
             if m.applies(first.objective_kind, "group")}))
    return Results(
        spec=spec, spec_hash=meta["spec_hash"], versions=meta["versions"],
        environment=meta["environment"], seed=meta["seed"],
        warnings=tuple(meta.get("warnings", [])),
        metric_definitions={m.label: m for m in metrics},
        cells=tuple(cells), groups=tuple(groups), checks=tuple(gates))
