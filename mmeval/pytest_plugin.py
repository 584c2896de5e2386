"""mmeval's pytest plugin (entry point ``pytest11``): robustness checks as tests.

- ``mmeval_evaluate(spec_or_path, models={label: obj})``: run a spec (an EvalSpec, a dict, or a
  ``.py``/``.json`` path), with model objects from your own code if given, and return its
  :class:`~mmeval.RunResult`; identical specs run once per session.
- ``mmeval_baseline(result, metrics, name=..., tolerance=...)``: compare metrics with a stored
  baseline JSON (``baselines/<name>.json`` next to the test file); ``--mmeval-update-baselines``
  writes it; a missing baseline fails with the command that creates it.
- ``@pytest.mark.robustness(model=..., attack=..., eps=..., task=..., reason=...)`` labels a check
  (other keywords are errors); ``--mmeval-device`` and ``--mmeval-max-samples`` override every
  spec's device and cap its task limits; the terminal summary lists every result of the session.

Nothing heavy is imported until a fixture is used.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

MARKER_KWARGS = frozenset({"model", "attack", "eps", "task", "reason"})
#: spec hash -> (first test that ran it, RunResult), per pytest session
_RESULTS = pytest.StashKey[dict[str, tuple[str, Any]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mmeval", "mmeval robustness checks")
    group.addoption("--mmeval-device", default=None,
                    help="device for every spec the mmeval fixtures run (cpu, cuda, auto)")
    group.addoption("--mmeval-max-samples", type=int, default=None,
                    help="cap every task's limit (fast CI)")
    group.addoption("--mmeval-update-baselines", action="store_true",
                    help="write the metrics mmeval_baseline compares into its baseline files")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_RESULTS] = {}
    config.addinivalue_line(
        "markers", "robustness(model=, attack=, eps=, task=, reason=): an mmeval robustness check")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for mark in item.iter_markers("robustness"):
            unknown = set(mark.kwargs) - MARKER_KWARGS
            if mark.args or unknown:
                bad = sorted(unknown) or list(mark.args)
                raise pytest.UsageError(
                    f"{item.nodeid}: @pytest.mark.robustness takes keywords "
                    f"{sorted(MARKER_KWARGS)}, got {bad}")


@pytest.fixture(scope="session")
def _mmeval_runner(request: pytest.FixtureRequest,
                   tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Any]:
    config = request.config
    device = config.getoption("--mmeval-device")
    cap = config.getoption("--mmeval-max-samples")
    root = tmp_path_factory.mktemp("mmeval")
    results = config.stash[_RESULTS]

    def run(spec: Any, nodeid: str, models: dict[str, Any] | None) -> Any:
        from mmeval import evaluate, get_host, load_spec
        from mmeval.models.in_memory import with_models
        from mmeval.spec import validate_spec

        if isinstance(spec, (str, Path)):
            spec = load_spec(spec)
        if models:  # model objects: registered, and their weights' digests enter the hash
            spec = with_models(spec, models, get_host())
        spec = validate_spec(spec)
        spec = spec.model_copy(update={"run": spec.run.model_copy(update={"progress": False})})
        key = spec.spec_hash()  # the session's --mmeval-* options are the same for every spec
        if key not in results:
            results[key] = (nodeid, evaluate(spec, out=root / f"{spec.name}-{key}", limit=cap,
                                             device=device))
        return results[key][1]

    return run


@pytest.fixture()
def mmeval_evaluate(request: pytest.FixtureRequest,
                    _mmeval_runner: Callable[..., Any]) -> Callable[..., Any]:
    """``mmeval_evaluate(spec_or_path, models=None) -> RunResult`` (cached per spec hash for the
    session); ``models`` maps labels to model objects defined in your code (see
    ``mmeval.register_model``)."""
    return lambda spec, models=None: _mmeval_runner(spec, request.node.nodeid, models)


def _baseline_values(result: Any, metrics: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per cell and metric: the value, its n and which way is better (the metric's own)."""
    definitions = result.results["metric_definitions"]
    out: dict[str, dict[str, Any]] = {}
    for row in result.cells + result.results["groups"]:
        label = " | ".join(str(row.get(k, "")) for k in ("model", "defense", "task", "attack"))
        for name in metrics:
            if name in row["metrics"]:
                m = row["metrics"][name]
                out[f"{label} :: {name}"] = {
                    "value": m["value"], "n": m["n"],
                    "higher_is_better": definitions[name].get("higher_is_better")}
    return out


def _moved(old: dict[str, Any], new: dict[str, Any], tolerance: float, two_sided: bool) -> bool:
    """Whether ``new`` is worse than ``old`` by more than ``tolerance`` (either way if
    ``two_sided`` or the metric has no better direction)."""
    a, b = old["value"], new["value"]
    if a is None or b is None:
        return (a is None) != (b is None)
    better = old.get("higher_is_better")
    if two_sided or better is None:
        return not math.isclose(a, b, abs_tol=tolerance)
    drop = (a - b) if better else (b - a)
    return drop > tolerance and not math.isclose(drop, tolerance)


@pytest.fixture()
def mmeval_baseline(request: pytest.FixtureRequest) -> Callable[..., None]:
    """``mmeval_baseline(result, ["robust-accuracy"], name=None, tolerance=0.02,
    two_sided=False)``: no chosen metric of any cell may be worse than the stored baseline by
    more than ``tolerance`` (absolute; "worse" by the metric's ``higher_is_better``, both ways
    with ``two_sided`` or for a metric with no better direction). A baseline recorded at another
    sample count does not apply: the check is skipped, saying so."""
    update = request.config.getoption("--mmeval-update-baselines")

    def check(result: Any, metrics: Sequence[str], name: str | None = None,
              tolerance: float = 0.02, two_sided: bool = False) -> None:
        __tracebackhide__ = True
        path = Path(request.node.path).parent / "baselines" / f"{name or request.node.name}.json"
        current = _baseline_values(result, metrics)
        if not current:
            pytest.fail(f"the result has none of the metrics {list(metrics)}")
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
            return
        if not path.is_file():
            pytest.fail(f"no baseline at {path}; create it with "
                        f"`pytest {request.node.nodeid} --mmeval-update-baselines` and commit it",
                        pytrace=False)
        stored = {k: v if isinstance(v, dict) else {"value": v}  # older files: values only
                  for k, v in json.loads(path.read_text()).items()}
        other_n = sorted({(stored[k].get("n"), current[k]["n"]) for k in set(stored) & set(current)
                          if stored[k].get("n") not in (None, current[k]["n"])})
        if other_n:
            pytest.skip(f"the baseline {path.name} was recorded at n={other_n[0][0]}, this run has "
                        f"n={other_n[0][1]} (e.g. --mmeval-max-samples): it does not apply; run "
                        "at the baseline's n, or re-record it")
        problems = []
        for key in sorted(set(stored) | set(current)):
            if key not in current or key not in stored:
                problems.append(f"{key}: {'missing now' if key not in current else 'not in baseline'}")
            elif _moved(stored[key], current[key], tolerance, two_sided):
                problems.append(f"{key}: baseline {stored[key]['value']}, now "
                                f"{current[key]['value']} (tolerance {tolerance})")
        if problems:
            pytest.fail(f"{len(problems)} metric(s) moved from {path}:\n  " + "\n  ".join(problems)
                        + "\n(re-run with --mmeval-update-baselines if the change is intended)",
                        pytrace=False)

    return check


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    results = config.stash.get(_RESULTS, {})
    if not results:
        return
    tr = terminalreporter
    tr.write_sep("=", "mmeval robustness results")
    for nodeid, result in results.values():
        tr.write_line(f"{nodeid}  ->  {result.run_dir}")
        units = {k: v.get("unit", "share") for k, v in result.results["metric_definitions"].items()}
        for cell in result.cells:
            shown = []
            for name, m in cell["metrics"].items():
                if m["value"] is None:
                    continue
                if units.get(name, "share") == "share":
                    shown.append(f"{name} {100 * m['value']:.1f} "
                                 f"[{100 * m['low']:.1f}, {100 * m['high']:.1f}]")
                else:
                    shown.append(f"{name} {m['value']:.4g}")
            tr.write_line(f"  {cell['label']} (n={cell['n']}): " + "; ".join(shown))
