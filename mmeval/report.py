"""The report step: typed results from the journal, handed to every reporter plugin
(``mmeval_report``). ``mmeval report RUN_DIR`` runs it again from the journal alone."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .hookspecs import ReportEvent
from .planning import MetricPlan, resolve_metrics
from .plugins import PluginHost
from .results import Results, build_results
from .spec import validate_spec
from .store import Store, check_outputs, run_lock, shard_name


def report(host: PluginHost, store: Store, metrics: Sequence[MetricPlan], run_dir: Path) -> Results:
    """Compute the results of the run journaled in ``store`` and let every reporter write them."""
    results = build_results(store, metrics)
    host.notify("mmeval_report", ReportEvent(run_dir, results))
    return results


def recompute(run_dir: str | Path, host: PluginHost) -> dict[str, Any]:
    """Rebuild results.json and the reports of an existing run from its journal (the metrics of
    the spec stored there, resolved against ``host``); the results.json content."""
    run_dir = Path(run_dir)
    check_outputs(run_dir)
    with Store(run_dir, create=False) as store:
        if list(run_dir.glob(shard_name("*"))):  # a killed distributed run's rank journals
            with run_lock(run_dir):
                store.merge_shards()
        metrics = resolve_metrics(validate_spec(store.meta()["spec"]), host)
        return report(host, store, metrics, run_dir).to_json()
