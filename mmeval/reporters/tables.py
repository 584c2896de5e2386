"""The report's tables as data, shared by the Markdown and HTML reporters: one results table per
objective kind, the source x target transfer tables, and the metric formatting."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..metrics import average
from ..results import CellResult, GroupResult, Results
from ..types import MetricValue


@dataclass(frozen=True)
class Table:
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


#: an interval from fewer samples is marked (†): it is wide and rests on little evidence
SMALL_N = 10


def fmt(m: MetricValue | None, unit: str = "share") -> str:
    """A share in %, any other unit as it is, with its interval (marked † below ``SMALL_N``
    samples); a dash where there is none."""
    if m is None or math.isnan(m.value):
        return "—"
    k = 100 if unit == "share" else 1
    small = " †" if m.n < SMALL_N else ""
    return f"{k * m.value:.1f} [{k * m.low:.1f}, {k * m.high:.1f}]{small}"


def _status(cell: CellResult) -> str:
    status = cell.status + (f": {cell.error}" if cell.error else "")
    if not cell.reliable:
        status += " · unreliable (" + ", ".join(cell.failed_checks) + ")"
    return status


def result_tables(results: Results) -> list[Table]:
    """One table per objective kind, one row per cell (plus one worst-case row per model x
    defense x task where a group metric applies); only the metrics that apply are columns."""
    tables = []
    kinds = list(dict.fromkeys(c.info.objective_kind for c in results.cells))
    units = {k: d.unit for k, d in results.metric_definitions.items()}
    for kind in kinds:
        rows: list[tuple[CellResult | GroupResult, str, str, str]] = []
        for group in (g for g in results.groups if g.objective_kind == kind):
            for cell in (c for c in results.cells if c.group == group.id):
                rows.append((cell, cell.info.attack, str(cell.n), _status(cell)))
            if group.metrics:
                n = max((m.n for m in group.metrics.values()), default=0)
                rows.append((group, "worst case over attacks", str(n), ""))
        names = [n for n in results.metric_definitions if any(n in r.metrics for r, *_ in rows)]
        body = []
        for row, attack, n, status in rows:
            model, defense, task = ((row.info.model, row.info.defense, row.info.task)
                                    if isinstance(row, CellResult)
                                    else (row.model, row.defense, row.task))
            body.append((model, defense, task, attack, n,
                         *(fmt(row.metrics.get(name), units[name]) for name in names), status))
        tables.append(Table(kind, ("model", "defense", "task", "attack", "n", *names, "status"),
                            tuple(body)))
    return tables


#: the metrics of the source x target tables, per objective kind (those the spec computes)
TRANSFER_METRICS = {"classification": ("robust-accuracy", "attack-success-rate"),
                    "retrieval": ("tr@1 asr-relative", "ir@1 asr-relative", "tr@1", "ir@1")}


def transfer_tables(results: Results) -> list[Table]:
    """Where the spec has transfer attacks: per task, defense, attack and metric, a table with one
    row per source model and one column per target model (white-box cells are their own model's
    source)."""
    attacked = [c for c in results.cells if c.info.role != "clean"]
    families: dict[tuple[str, str, str], list[CellResult]] = {}
    for c in attacked:
        families.setdefault((c.info.task, c.info.defense, c.info.attack_key), []).append(c)
    out = []
    for (task, defense, _), members in families.items():
        transfer = [c for c in members if c.info.role == "transfer"]
        if not transfer:
            continue
        kind = members[0].info.objective_kind
        metrics = [m for m in TRANSFER_METRICS.get(kind, ()) if m in results.metric_definitions]
        sources = list(dict.fromkeys(c.info.source or c.info.model for c in members))
        targets = list(dict.fromkeys(c.info.model for c in members))
        for metric in metrics:
            unit = results.metric_definitions[metric].unit
            rows = []
            for src in sources:
                row = [src]
                for target in targets:
                    match = [c for c in members if c.info.model == target
                             and (c.info.source or c.info.model) == src]
                    row.append(fmt(match[0].metrics.get(metric), unit) if match else "—")
                rows.append(tuple(row))
            out.append(Table(f"{task} · {defense} · {transfer[0].info.attack} · {metric}",
                             ("source \\ target", *targets), tuple(rows)))
    return out


#: the metrics of the suite tables, per objective kind (those the spec computes)
SUITE_METRICS = {"classification": ("robust-accuracy",), "retrieval": ("tr@1", "ir@1")}


def suite_tables(results: Results) -> list[Table]:
    """Per suite and metric, TeCoA/MMCoA's layout: one row per model x defense x attack, one
    column per dataset of the suite and the average over the datasets (with its interval, see
    :func:`mmeval.metrics.average`); the average is left out of a row missing a dataset."""
    out = []
    for suite in dict.fromkeys(c.info.suite for c in results.cells if c.info.suite):
        members = [c for c in results.cells if c.info.suite == suite]
        datasets = list(dict.fromkeys(c.info.task for c in members))
        by_row: dict[tuple[str, str, str], dict[str, CellResult]] = {}
        for c in members:
            by_row.setdefault((c.info.model, c.info.defense, c.info.attack), {})[c.info.task] = c
        kind = members[0].info.objective_kind
        for metric in (m for m in SUITE_METRICS.get(kind, ()) if m in results.metric_definitions):
            unit = results.metric_definitions[metric].unit
            body = []
            for key, cells in by_row.items():
                values = [cells[d].metrics.get(metric) if d in cells else None for d in datasets]
                present = [v for v in values if v is not None]
                mean = average(present) if len(present) == len(datasets) else None
                body.append((*key, *(fmt(v, unit) for v in values), fmt(mean, unit)))
            out.append(Table(f"{suite} · {metric}", ("model", "defense", "attack", *datasets,
                                                       "average"), tuple(body)))
    return out


def language_models(results: Results) -> list[tuple[str, str]]:
    """(attack label, language model) of every text attack that proposes words with one."""
    return list(dict.fromkeys((c.info.attack, c.info.language_model) for c in results.cells
                              if c.info.language_model))


def failed_checks(results: Results) -> tuple[int, list[tuple[str, str, str, str]]]:
    """(gates passed, [(gate, status, detail, concerned cell labels)] of the others)."""
    labels = {c.id: c.info.label for c in results.cells}
    shown = [g for g in results.checks if g["status"] != "passed"]
    return len(results.checks) - len(shown), [
        (g["gate"], g["status"], g["detail"], ", ".join(labels.get(c, c) for c in g["cells"]))
        for g in shown]
