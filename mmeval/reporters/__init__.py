"""The built-in reporters: plugins on the ``mmeval_report`` observer hook, registered like any
third-party plugin, each rendering the typed :class:`~mmeval.results.Results` into one file of the
run directory (results.json, report.md, report.html)."""

from __future__ import annotations

#: (plugin name, module) of every built-in reporter, registered by the plugin host
BUILTIN = (
    ("mmeval-results-json", "mmeval.reporters.results_json"),
    ("mmeval-report-md", "mmeval.reporters.markdown"),
    ("mmeval-report-html", "mmeval.reporters.html"),
)
