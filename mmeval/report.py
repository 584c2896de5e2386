"""results.json and report.md, computed from the journal alone (no model is loaded), so
``mmeval report RUN_DIR`` can recompute them anywhere."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .plugins import PluginHost
from .spec import ComponentRef
from .store import Store

RESULTS_VERSION = 1


def _metric_objects(spec: dict[str, Any], host: PluginHost) -> list[tuple[str, Any, str]]:
    out = []
    for i, raw in enumerate(spec["metrics"]):
        ref = ComponentRef.model_validate(raw)
        comp = host.registry.get("metric", ref.name, f"metrics[{i}].name")
        metric = comp.load()(comp.validate_params(ref.params, f"metrics[{i}].params"))
        doc = (type(metric).__doc__ or "").strip()
        out.append((ref.label or ref.name, metric, " ".join(doc.split())))
    return out


def build_results(store: Store, host: PluginHost) -> dict[str, Any]:
    """Recompute every metric of the latest run recorded in ``store``."""
    meta = store.meta()
    spec = meta["spec"]
    metrics = _metric_objects(spec, host)
    cells, groups, group_records = [], {}, {}
    for row in store.cells(meta["cells"]):
        records = store.records(row["cell_id"])
        cells.append({
            "id": row["cell_id"], "group": row["grp"], "label": row["label"],
            "model": row["model"], "defense": row["defense"], "task": row["task"],
            "attack": row["attack"], "definition": row["definition"], "status": row["status"],
            "error": row["error"], "n": len(records), "total": row["total"],
            "metrics": {name: m.compute(records).as_dict()
                        for name, m, _ in metrics if m.scope == "cell"},
        })
        groups.setdefault(row["grp"], {
            "id": row["grp"], "model": row["model"], "defense": row["defense"],
            "task": row["task"], "attack": "worst case over attacks", "cells": []})
        groups[row["grp"]]["cells"].append(row["cell_id"])
        group_records.setdefault(row["grp"], []).extend(records)
    for gid, group in groups.items():
        group["metrics"] = {name: m.compute(group_records[gid]).as_dict()
                            for name, m, _ in metrics if m.scope == "group"}
    return {
        "mmeval_results": RESULTS_VERSION,
        "spec": spec,
        "spec_hash": meta["spec_hash"],
        "versions": meta["versions"],
        "environment": meta["environment"],
        "seed": meta["seed"],
        "warnings": meta.get("warnings", []),
        "metric_definitions": {name: {"scope": m.scope, "definition": doc}
                               for name, m, doc in metrics},
        "cells": cells,
        "groups": list(groups.values()),
    }


def _fmt(m: dict[str, Any] | None) -> str:
    if not m or m["value"] is None or math.isnan(m["value"]):
        return "—"
    return f"{100 * m['value']:.1f} [{100 * m['low']:.1f}, {100 * m['high']:.1f}]"


def render_markdown(results: dict[str, Any]) -> str:
    """One table, one row per cell (plus one worst-case row per model x defense x task)."""
    names = list(results["metric_definitions"])
    spec = results["spec"]
    lines = [
        f"# mmeval report: {spec['name']}",
        "",
        f"spec hash `{results['spec_hash']}` · seed {results['seed']} · device "
        f"{results['environment']['device']} · torch {results['environment']['torch']} · "
        + ", ".join(f"{k} {v}" for k, v in sorted(results["versions"].items())),
        "",
        "Metrics in %, with 95% Wilson intervals.",
        "",
        "| model | defense | task | attack | n | " + " | ".join(names) + " | status |",
        "|" + "---|" * (len(names) + 6),
    ]
    rows = []
    for group in results["groups"]:
        for cell in (c for c in results["cells"] if c["group"] == group["id"]):
            status = cell["status"] + (f": {cell['error']}" if cell["error"] else "")
            rows.append((cell, str(cell["n"]), status.replace("|", "/").replace("\n", " ")))
        if group["metrics"]:
            n = max((m["n"] for m in group["metrics"].values()), default=0)
            rows.append((group, str(n), ""))
    for row, n, status in rows:
        values = [_fmt(row["metrics"].get(name)) for name in names]
        lines.append(f"| {row['model']} | {row['defense']} | {row['task']} | {row['attack']} | "
                     f"{n} | " + " | ".join(values) + f" | {status} |")
    for w in results["warnings"]:
        lines += ["", f"> warning: {w}"]
    defs = results["metric_definitions"]
    lines += ["", "## Metric definitions", ""]
    lines += [f"- **{k}** ({v['scope']}): {v['definition']}" for k, v in defs.items()]
    return "\n".join(lines) + "\n"


def write_outputs(store: Store, host: PluginHost, run_dir: Path) -> dict[str, Any]:
    """Compute results from the journal and write results.json and report.md into ``run_dir``."""
    results = build_results(store, host)
    (run_dir / "results.json").write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    (run_dir / "report.md").write_text(render_markdown(results))
    return results


def recompute(run_dir: str | Path, host: PluginHost) -> dict[str, Any]:
    """Rebuild results.json and report.md of an existing run from its journal."""
    run_dir = Path(run_dir)
    with Store(run_dir, create=False) as store:
        return write_outputs(store, host, run_dir)
