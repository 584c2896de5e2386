"""report.html: a self-contained page built as HTML (every string escaped, one ``<table>`` per
table): the eps curves, the suite, results and transfer tables, sanity checks, warnings and metric
definitions."""

from __future__ import annotations

from html import escape

from ..hookspecs import ReportEvent, hookimpl
from ..results import Results
from .plots import curve_png
from .tables import (
    Table,
    failed_checks,
    language_models,
    result_tables,
    suite_tables,
    transfer_tables,
)

STYLE = ("body{font-family:sans-serif;margin:2em} table{border-collapse:collapse;margin:1em 0}"
         "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px} th{background:#f4f4f4}")


def _table(table: Table, caption: str | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.header)
    body = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>"
                   for row in table.rows)
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(results: Results) -> str:
    env = results.environment
    versions = ", ".join(f"{k} {v}" for k, v in sorted(results.versions.items()))
    parts = [
        f"<h1>mmeval report: {escape(results.name)}</h1>",
        f"<p>spec hash <code>{escape(results.spec_hash)}</code> · seed {results.seed} · device "
        f"{escape(str(env['device']))} · torch {escape(str(env['torch']))} · {escape(versions)}</p>",
        "<p>Shares in %, counts as they are, with 95% intervals (Wilson; bootstrap for "
        "asr-absolute and accuracy-drop).</p>",
    ]
    png = curve_png(results)
    if png:
        parts.append('<h2>Robustness vs eps</h2><img alt="robustness vs eps" '
                     f'src="data:image/png;base64,{png}">')
    suites = suite_tables(results)
    if suites:
        parts.append("<h2>suites (columns: datasets, and their average)</h2>")
        parts += [_table(t, t.title) for t in suites]
    for table in result_tables(results):
        parts.append(f"<h2>{escape(table.title)}</h2>{_table(table)}")
    transfer = transfer_tables(results)
    if transfer:
        parts.append("<h2>transfer (rows: source model, columns: target model)</h2>")
        parts += [_table(t, t.title) for t in transfer]
    lms = "".join(f"<li>{escape(attack)}: {escape(lm)}</li>" for attack, lm in
                  language_models(results))
    if lms:
        parts.append(f"<h2>Language models of the text attacks</h2><ul>{lms}</ul>")
    passed, shown = failed_checks(results)
    items = "".join(f"<li><strong>{escape(gate)}</strong> {escape(status)}: {escape(detail)} — "
                    f"{escape(concerned)}</li>" for gate, status, detail, concerned in shown)
    parts.append(f"<h2>Sanity checks</h2><p>{passed} passed, {len(shown)} failed or skipped.</p>"
                 + (f"<ul>{items}</ul>" if items else ""))
    parts += [f'<p class="warning">warning: {escape(w)}</p>' for w in results.warnings]
    defs = "".join(f"<li><strong>{escape(k)}</strong> ({escape(v.scope)}): "
                   f"{escape(v.definition)}</li>" for k, v in results.metric_definitions.items())
    parts.append(f"<h2>Metric definitions</h2><ul>{defs}</ul>")
    return (f"<!doctype html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>mmeval: {escape(results.name)}</title><style>{STYLE}</style></head>"
            f"<body>{''.join(parts)}</body></html>\n")


@hookimpl
def mmeval_report(event: ReportEvent) -> None:
    (event.run_dir / "report.html").write_text(render_html(event.results))
