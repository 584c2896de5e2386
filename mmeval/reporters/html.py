"""report.html: a self-contained page built as HTML (every string escaped, one ``<table>`` per
table, images embedded): a table of contents, the eps curves, the suite, results and transfer
tables, the language models of text attacks, examples of every cell (clean and adversarial inputs,
the perturbation amplified, predictions, changed words highlighted), sanity checks, warnings and
metric definitions."""

from __future__ import annotations

import base64
import difflib
import re
from html import escape
from pathlib import Path

from .. import examples
from ..hookspecs import ReportEvent, hookimpl
from ..results import CellResult, Results
from ..store import write_output
from .plots import curve_png
from .tables import (
    SMALL_N,
    Table,
    failed_checks,
    language_models,
    result_tables,
    suite_tables,
    transfer_tables,
)

STYLE = ("body{font-family:sans-serif;margin:2em;max-width:1400px} h2+img{max-width:100%} "
         "table{border-collapse:collapse;margin:1em 0}"
         "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px} th{background:#f4f4f4}"
         "nav ul{columns:2} figure{display:inline-block;margin:0 1.5em 1em 0;vertical-align:top}"
         "figure img{width:96px;height:96px;image-rendering:pixelated;margin-right:4px}"
         "figcaption{font-size:12px;max-width:320px} mark{background:#fde68a}"
         ".ok{color:#15803d} .bad{color:#b91c1c} .warning{color:#92400e}")
#: cells whose examples the page shows at most (attacked cells first)
EXAMPLE_CELLS = 24


def _table(table: Table, caption: str | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.header)
    body = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>"
                   for row in table.rows)
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _prose(text: str) -> str:
    """Escaped ``text`` with its docstring markup rendered: ``**bold**`` and ````code````."""
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escape(text))
    return re.sub(r"``(.+?)``", r"<code>\1</code>", out)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _marked(before: str, after: str) -> str:
    """``after`` with the words that differ from ``before`` in ``<mark>``."""
    a, b = before.split(), after.split()
    out = []
    for op, _, _, j1, j2 in difflib.SequenceMatcher(a=a, b=b).get_opcodes():
        words = escape(" ".join(b[j1:j2]))
        out.append(words if op == "equal" else f"<mark>{words}</mark>")
    return " ".join(w for w in out if w)


def _example(entry: dict) -> str:
    imgs = entry["images"]
    shown = [("clean", "clean")] + ([("delta", f"perturbation ×{entry['amplification']}"),
                                     ("adv", "adversarial")] if entry["amplification"] else [])
    pics = "".join(f'<img alt="{escape(title)}" title="{escape(title)}" '
                   f'src="{_data_uri(imgs[kind])}">' for kind, title in shown if imgs[kind].exists())
    lines = [f"<code>{escape(entry['sample_id'])}</code>"]
    if entry["label"] is not None:
        def verdict(pred: str | None, ok: bool) -> str:
            return f'<span class="{"ok" if ok else "bad"}">{escape(str(pred))}</span>'
        lines.append(f"label {escape(entry['label'])} · clean → "
                     f"{verdict(entry['clean_pred'], entry['clean_correct'])} · adversarial → "
                     f"{verdict(entry['adv_pred'], entry['adv_correct'])}")
    for clean, adv in zip(entry["texts"], entry["adv_texts"], strict=False):
        lines.append(f"{escape(clean)}<br>→ {_marked(clean, adv)}")
    return f"<figure>{pics}<figcaption>{'<br>'.join(lines)}</figcaption></figure>"


def _examples(results: Results, run_dir: Path | None) -> str:
    if run_dir is None:
        return ""
    cells: list[CellResult] = sorted(results.cells, key=lambda c: c.info.role == "clean")
    blocks = []
    for cell in cells[:EXAMPLE_CELLS]:
        saved = examples.load(run_dir, cell.id)
        if saved:
            blocks.append(f"<h3>{escape(cell.info.label)}</h3>"
                          + "".join(_example(e) for e in saved))
    return "".join(blocks)


def render_html(results: Results, run_dir: Path | None = None) -> str:
    """The page; with ``run_dir``, the examples saved there are shown too."""
    env = results.environment
    versions = ", ".join(f"{k} {v}" for k, v in sorted(results.versions.items()))
    sections: list[tuple[str, str]] = []  # (title, body)
    png = curve_png(results)
    if png:
        sections.append(("Robustness vs eps", '<img alt="robustness vs eps" '
                                              f'src="data:image/png;base64,{png}">'))
    suites = suite_tables(results)
    if suites:
        sections.append(("Suites (columns: datasets, and their average)",
                         "".join(_table(t, t.title) for t in suites)))
    for table in result_tables(results):
        sections.append((f"Results: {table.title}", _table(table)))
    transfer = transfer_tables(results)
    if transfer:
        sections.append(("Transfer (rows: source model, columns: target model)",
                         "".join(_table(t, t.title) for t in transfer)))
    lms = "".join(f"<li>{escape(attack)}: {escape(lm)}</li>" for attack, lm in
                  language_models(results))
    if lms:
        sections.append(("Language models of the text attacks", f"<ul>{lms}</ul>"))
    shown_examples = _examples(results, run_dir)
    if shown_examples:
        sections.append(("Examples", shown_examples))
    passed, shown = failed_checks(results)
    items = "".join(f"<li><strong>{escape(gate)}</strong> {escape(status)}: {escape(detail)} — "
                    f"{escape(concerned)}</li>" for gate, status, detail, concerned in shown)
    sections.append(("Sanity checks", f"<p>{passed} passed, {len(shown)} failed or skipped.</p>"
                     + (f"<ul>{items}</ul>" if items else "")))
    if results.warnings:
        sections.append(("Warnings", "".join(f'<p class="warning">{escape(w)}</p>'
                                             for w in results.warnings)))
    defs = "".join(f"<li><strong>{escape(k)}</strong> ({escape(v.scope)}): "
                   f"{_prose(v.definition)}</li>" for k, v in results.metric_definitions.items())
    sections.append(("Metric definitions", f"<ul>{defs}</ul>"))
    anchors = [f"s{i}-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
               for i, (title, _) in enumerate(sections)]
    toc = "".join(f'<li><a href="#{a}">{escape(t)}</a></li>'
                  for a, (t, _) in zip(anchors, sections, strict=True))
    body = "".join(f'<h2 id="{a}">{escape(t)}</h2>{html}'
                   for a, (t, html) in zip(anchors, sections, strict=True))
    head = (f"<h1>mmeval report: {escape(results.name)}</h1>"
            f"<p>spec hash <code>{escape(results.spec_hash)}</code> · seed {results.seed} · "
            f"device {escape(str(env['device']))} · torch {escape(str(env['torch']))} · "
            f"{escape(versions)}</p><p>Shares in %, counts as they are, with 95% intervals "
            "(Wilson; bootstrap for asr-absolute and accuracy-drop); † marks an interval from "
            f"fewer than {SMALL_N} samples.</p><nav><ul>{toc}</ul></nav>")
    return (f"<!doctype html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>mmeval: {escape(results.name)}</title><style>{STYLE}</style></head>"
            f"<body>{head}{body}</body></html>\n")


@hookimpl
def mmeval_report(event: ReportEvent) -> None:
    write_output(event.run_dir, "report.html", render_html(event.results, event.run_dir))
