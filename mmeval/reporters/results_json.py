"""results.json: the machine-readable results (``Results.to_json()``)."""

from __future__ import annotations

import json

from ..hookspecs import ReportEvent, hookimpl
from ..store import write_output


@hookimpl
def mmeval_report(event: ReportEvent) -> None:
    text = json.dumps(event.results.to_json(), indent=2, sort_keys=False) + "\n"
    write_output(event.run_dir, "results.json", text)
