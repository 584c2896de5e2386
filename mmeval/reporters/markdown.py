"""report.md: the suite tables, results tables, transfer tables, sanity checks, warnings and metric
definitions. Every string from the journal is escaped for a table cell (``|`` and line breaks)."""

from __future__ import annotations

from ..hookspecs import ReportEvent, hookimpl
from ..results import Results
from ..store import write_output
from .tables import (
    SMALL_N,
    Table,
    failed_checks,
    language_models,
    result_tables,
    suite_tables,
    transfer_tables,
)


def cell_text(text: str) -> str:
    """``text`` safe inside a Markdown table cell or list item: one line, no bare ``|``."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(table: Table) -> list[str]:
    return ["| " + " | ".join(cell_text(h) for h in table.header) + " |",
            "|" + "---|" * len(table.header),
            *("| " + " | ".join(cell_text(v) for v in row) + " |" for row in table.rows)]


def render_markdown(results: Results) -> str:
    env = results.environment
    lines = [
        f"# mmeval report: {cell_text(results.name)}",
        "",
        cell_text(f"spec hash `{results.spec_hash}` · seed {results.seed} · device "
                  f"{env['device']} · torch {env['torch']} · "
                  + ", ".join(f"{k} {v}" for k, v in sorted(results.versions.items()))),
        "",
        "Shares in %, counts as they are, with 95% intervals (Wilson; bootstrap for asr-absolute "
        f"and accuracy-drop); † marks an interval from fewer than {SMALL_N} samples.",
    ]
    suites = suite_tables(results)
    if suites:
        lines += ["", "## suites (columns: datasets, and their average)"]
        for table in suites:
            lines += ["", cell_text(table.title), "", *_table(table)]
    for table in result_tables(results):
        lines += ["", f"## {cell_text(table.title)}", "", *_table(table)]
    transfer = transfer_tables(results)
    if transfer:
        lines += ["", "## transfer (rows: source model, columns: target model)"]
        for table in transfer:
            lines += ["", cell_text(table.title), "", *_table(table)]
    lms = language_models(results)
    if lms:
        lines += ["", "## Language models of the text attacks", ""]
        lines += [f"- {cell_text(attack)}: {cell_text(lm)}" for attack, lm in lms]
    passed, shown = failed_checks(results)
    lines += ["", "## Sanity checks", "", f"{passed} passed, {len(shown)} failed or skipped."]
    lines += [f"- **{gate}** {status}: {cell_text(detail)} — {cell_text(concerned)}"
              for gate, status, detail, concerned in shown]
    lines += [line for w in results.warnings for line in ("", f"> warning: {cell_text(w)}")]
    lines += ["", "## Metric definitions", ""]
    lines += [f"- **{cell_text(k)}** ({v.scope}): {cell_text(v.definition)}"
              for k, v in results.metric_definitions.items()]
    return "\n".join(lines) + "\n"


@hookimpl
def mmeval_report(event: ReportEvent) -> None:
    write_output(event.run_dir, "report.md", render_markdown(event.results))
