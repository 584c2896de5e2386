"""results.json and report.md, computed from the journal alone (no model is loaded), so
``mmeval report RUN_DIR`` can recompute them anywhere."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from . import checks
from .plugins import PluginHost
from .spec import ChecksSettings, ComponentRef
from .store import Store

RESULTS_VERSION = 1


def _metric_objects(spec: dict[str, Any], host: PluginHost) -> list[tuple[str, Any, str]]:
    out = []
    for i, raw in enumerate(spec["metrics"]):
        ref = ComponentRef.model_validate(raw)
        comp = host.registry.get("metric", ref.name, f"metrics[{i}].name")
        metric = comp.instantiate(comp.validate_params(ref.params, f"metrics[{i}].params"))
        doc = (type(metric).__doc__ or "").strip()
        out.append((ref.label or ref.name, metric, " ".join(doc.split())))
    return out


def _applies(metric: Any, kind: str, scope: str) -> bool:
    kinds = getattr(metric, "objectives", None)
    return metric.scope == scope and (kinds is None or kind in kinds)


def build_results(store: Store, host: PluginHost) -> dict[str, Any]:
    """Recompute every metric of the latest run recorded in ``store``."""
    meta = store.meta()
    spec = meta["spec"]
    metrics = _metric_objects(spec, host)
    cells, groups, group_records = [], {}, {}
    rows = store.cells(meta["cells"])
    journaled = {row["cell_id"]: store.records(row["cell_id"]) for row in rows}
    settings = ChecksSettings.model_validate(spec["run"].get("checks", {}))
    gates = [g for g in store.checks() if set(g["cells"]) & set(journaled)]
    gates += checks.record_gates(rows, journaled, settings)
    failed = checks.verdicts(gates)
    for row in rows:
        records = checks.scored(journaled[row["cell_id"]])
        objective = row["definition"]["objective"]["name"]
        kind = getattr(host.registry.get("objective", objective).load(), "kind", "?")
        cells.append({
            "id": row["cell_id"], "group": row["grp"], "label": row["label"],
            "model": row["model"], "defense": row["defense"], "task": row["task"],
            "attack": row["attack"], "objective_kind": kind, "definition": row["definition"],
            "status": row["status"], "error": row["error"], "n": len(records),
            "total": row["total"], "flagged": len(journaled[row["cell_id"]]) - len(records),
            "reliable": row["cell_id"] not in failed, "failed_checks": failed.get(row["cell_id"], []),
            "metrics": {name: m.compute(records).as_dict()
                        for name, m, _ in metrics if _applies(m, kind, "cell")},
        })
        groups.setdefault(row["grp"], {
            "id": row["grp"], "model": row["model"], "defense": row["defense"],
            "task": row["task"], "attack": "worst case over attacks", "objective_kind": kind,
            "cells": []})
        groups[row["grp"]]["cells"].append(row["cell_id"])
        group_records.setdefault(row["grp"], []).extend(records)
    for gid, group in groups.items():
        group["metrics"] = {name: m.compute(group_records[gid]).as_dict()
                            for name, m, _ in metrics if _applies(m, group["objective_kind"], "group")}
    return {
        "mmeval_results": RESULTS_VERSION,
        "spec": spec,
        "spec_hash": meta["spec_hash"],
        "versions": meta["versions"],
        "environment": meta["environment"],
        "seed": meta["seed"],
        "warnings": meta.get("warnings", []),
        "metric_definitions": {name: {"scope": m.scope, "objectives": getattr(m, "objectives", None),
                                      "unit": getattr(m, "unit", "share"), "definition": doc}
                               for name, m, doc in metrics},
        "cells": cells,
        "groups": list(groups.values()),
        "checks": gates,
        "unreliable": sorted(failed),
    }


def _fmt(m: dict[str, Any] | None, unit: str = "share") -> str:
    """A share in %, any other unit as it is, with its interval."""
    if not m or m["value"] is None or math.isnan(m["value"]):
        return "—"
    k = 100 if unit == "share" else 1
    return f"{k * m['value']:.1f} [{k * m['low']:.1f}, {k * m['high']:.1f}]"


def render_markdown(results: dict[str, Any]) -> str:
    """One table per objective kind, one row per cell (plus one worst-case row per model x
    defense x task where a group metric applies); only the metrics that apply are columns."""
    spec = results["spec"]
    env = results["environment"]
    lines = [
        f"# mmeval report: {spec['name']}",
        "",
        f"spec hash `{results['spec_hash']}` · seed {results['seed']} · device {env['device']} · "
        f"torch {env['torch']} · " + ", ".join(f"{k} {v}" for k, v in sorted(results["versions"].items())),
        "",
        "Shares in %, counts as they are, with 95% intervals (Wilson; bootstrap for asr-absolute "
        "and accuracy-drop).",
    ]
    kinds = list(dict.fromkeys(c["objective_kind"] for c in results["cells"]))
    for kind in kinds:
        rows: list[tuple[dict[str, Any], str, str]] = []
        for group in (g for g in results["groups"] if g["objective_kind"] == kind):
            for cell in (c for c in results["cells"] if c["group"] == group["id"]):
                status = cell["status"] + (f": {cell['error']}" if cell["error"] else "")
                if not cell["reliable"]:
                    status += " · unreliable (" + ", ".join(cell["failed_checks"]) + ")"
                rows.append((cell, str(cell["n"]), status.replace("|", "/").replace("\n", " ")))
            if group["metrics"]:
                n = max((m["n"] for m in group["metrics"].values()), default=0)
                rows.append((group, str(n), ""))
        names = [n for n in results["metric_definitions"] if any(n in r["metrics"] for r, _, _ in rows)]
        lines += ["", f"## {kind}", "",
                  "| model | defense | task | attack | n | " + " | ".join(names) + " | status |",
                  "|" + "---|" * (len(names) + 6)]
        for row, n, status in rows:
            values = [_fmt(row["metrics"].get(name), results["metric_definitions"][name]["unit"])
                      for name in names]
            lines.append(f"| {row['model']} | {row['defense']} | {row['task']} | {row['attack']} | "
                         f"{n} | " + " | ".join(values) + f" | {status} |")
    lines += _transfer_tables(results)
    lines += _checks_section(results)
    for w in results["warnings"]:
        lines += ["", f"> warning: {w}"]
    lines += ["", "## Metric definitions", ""]
    lines += [f"- **{k}** ({v['scope']}): {v['definition']}"
              for k, v in results["metric_definitions"].items()]
    return "\n".join(lines) + "\n"


def _checks_section(results: dict[str, Any]) -> list[str]:
    """The sanity gates that failed or could not run (docs/reliability.md), with what they concern."""
    labels = {c["id"]: c["label"] for c in results["cells"]}
    shown = [g for g in results["checks"] if g["status"] != "passed"]
    passed = len(results["checks"]) - len(shown)
    lines = ["", "## Sanity checks", "", f"{passed} passed, {len(shown)} failed or skipped."]
    for g in shown:
        concerned = ", ".join(labels.get(c, c) for c in g["cells"])
        lines.append(f"- **{g['gate']}** {g['status']}: {g['detail']} — {concerned}")
    return lines


#: the metrics of the source x target tables, per objective kind (those the spec computes)
TRANSFER_METRICS = {"classification": ("robust-accuracy", "attack-success-rate"),
                    "retrieval": ("tr@1 asr-relative", "ir@1 asr-relative", "tr@1", "ir@1")}


def _transfer_tables(results: dict[str, Any]) -> list[str]:
    """Where the spec has transfer attacks: per task and attack, a table with one row per source
    model and one column per target model (white-box cells are their own model's source)."""
    cells = [c for c in results["cells"] if c["definition"]["attack"]["name"] != "clean"]
    if not any("source" in c["definition"]["attack"] for c in cells):
        return []

    def key(definition: dict[str, Any]) -> str:
        return json.dumps(definition, sort_keys=True)

    names = {key(c["definition"]["model"]): c["model"] for c in results["cells"]}
    tables: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for c in cells:
        attack = c["definition"]["attack"]
        family = key({"name": attack["name"], "params": attack["params"]})
        tables.setdefault((c["task"], c["defense"], family), []).append(c)
    lines = ["", "## transfer (rows: source model, columns: target model)"]
    for (task, defense, _), members in tables.items():
        if not any("source" in c["definition"]["attack"] for c in members):
            continue
        kind = members[0]["objective_kind"]
        metrics = [m for m in TRANSFER_METRICS.get(kind, ()) if m in results["metric_definitions"]]
        sources = {}
        for c in members:
            src = c["definition"]["attack"].get("source", c["definition"]["model"])
            sources.setdefault(key(src), names.get(key(src), f"{src['name']} {src['params']}"))
        targets = list(dict.fromkeys(c["model"] for c in members))
        transfer = next(c for c in members if "source" in c["definition"]["attack"])
        attack = transfer["attack"]
        for metric in metrics:
            unit = results["metric_definitions"][metric]["unit"]
            lines += ["", f"{task} · {defense} · {attack} · {metric}", "",
                      "| source \\ target | " + " | ".join(targets) + " |",
                      "|" + "---|" * (len(targets) + 1)]
            for src_key, src_name in sources.items():
                row = []
                for target in targets:
                    match = [c for c in members if c["model"] == target and key(
                        c["definition"]["attack"].get("source", c["definition"]["model"])) == src_key]
                    row.append(_fmt(match[0]["metrics"].get(metric), unit) if match else "—")
                lines.append(f"| {src_name} | " + " | ".join(row) + " |")
    return lines


#: the metric plotted against eps for each objective kind
CURVE_METRICS = {"classification": ("robust-accuracy",), "retrieval": ("tr@1", "ir@1")}


def _eps(cell: dict[str, Any]) -> float | None:
    """The attack's eps in 1/255 units; 0 for ``clean``; None when the attack has no eps."""
    eps = checks.attack_eps(cell["definition"])
    return None if eps is None else 255 * eps


def _curve_png(results: dict[str, Any]) -> str | None:
    """Robust metric vs eps per task (one line per model x defense x task and attack family),
    intervals as error bars; a base64 PNG, or None if no cell has an eps."""
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[tuple[str, str], list[tuple[float, dict[str, Any]]]] = {}
    for group in results["groups"]:
        cells = [c for c in results["cells"] if c["group"] == group["id"] and _eps(c) is not None]
        clean = [c for c in cells if c["definition"]["attack"]["name"] == "clean"]
        families: dict[str, list[dict[str, Any]]] = {}
        for c in cells:
            if c not in clean:
                families.setdefault(c["definition"]["attack"]["name"], []).append(c)
        for family, members in families.items():
            for metric in CURVE_METRICS.get(group["objective_kind"], ()):
                key = (group["task"], f"{group['model']} / {group['defense']} / {family} · {metric}")
                series[key] = sorted(((_eps(c), c["metrics"][metric]) for c in clean + members
                                      if c["metrics"].get(metric, {}).get("value") is not None),
                                     key=lambda p: p[0])
    if not series:
        return None
    tasks = list(dict.fromkeys(t for t, _ in series))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        for (t, label), points in series.items():
            if t != task:
                continue
            xs = [p[0] for p in points]
            ys = [100 * p[1]["value"] for p in points]
            err = [[100 * (p[1]["value"] - p[1]["low"]) for p in points],
                   [100 * (p[1]["high"] - p[1]["value"]) for p in points]]
            ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=label)
        ax.set(title=task, xlabel="eps (x/255)", ylabel="%", ylim=(0, 100))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def render_html(results: dict[str, Any], markdown: str) -> str:
    """A self-contained page: the eps curves (embedded PNG) and the report's tables."""
    import html

    body = []
    for line in markdown.splitlines():
        if line.startswith("|---"):
            continue
        if line.startswith("| model"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            body.append("<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in cells) + "</tr>")
        elif line.startswith("| "):
            cells = [c.strip() for c in line.strip("|").split("|")]
            body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        else:
            if body and body[-1].endswith("</tr>"):
                body.append("</table>")
            if line.startswith("#"):
                level = len(line) - len(line.lstrip("#"))
                body.append(f"<h{level}>{html.escape(line.lstrip('# '))}</h{level}>")
            elif line.strip():
                body.append(f"<p>{html.escape(line.lstrip('-> '))}</p>")
    if body and body[-1].endswith("</tr>"):
        body.append("</table>")
    png = _curve_png(results)
    plot = f'<h2>Robustness vs eps</h2><img alt="robustness vs eps" src="data:image/png;base64,{png}">' \
        if png else ""
    style = ("body{font-family:sans-serif;margin:2em} table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px} th{background:#f4f4f4}")
    title = html.escape(results["spec"]["name"])
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>mmeval: {title}</title>"
            f"<style>{style}</style></head><body>{body[0] if body else ''}{plot}"
            + "".join(body[1:]) + "</body></html>\n")


def write_outputs(store: Store, host: PluginHost, run_dir: Path) -> dict[str, Any]:
    """Compute results from the journal; write results.json, report.md and report.html."""
    results = build_results(store, host)
    markdown = render_markdown(results)
    (run_dir / "results.json").write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    (run_dir / "report.md").write_text(markdown)
    (run_dir / "report.html").write_text(render_html(results, markdown))
    return results


def recompute(run_dir: str | Path, host: PluginHost) -> dict[str, Any]:
    """Rebuild results.json and report.md of an existing run from its journal."""
    run_dir = Path(run_dir)
    with Store(run_dir, create=False) as store:
        return write_outputs(store, host, run_dir)
