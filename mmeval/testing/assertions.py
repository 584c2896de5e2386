"""``assert_metric``: robustness checks that pass on evidence, not luck."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any, Literal

Op = Literal[">=", ">", "<=", "<"]
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


def assert_metric(result: Any, metric: str, op: Op, threshold: float, *,
                  cell: dict[str, str] | None = None, use: Literal["bound", "value"] = "bound"
                  ) -> None:
    """Assert ``metric op threshold`` for the one cell of ``result`` matching ``cell`` (fields
    ``model``, ``defense``, ``task``, ``attack`` as in results.json; may be omitted when a single
    cell has the metric). By default the side of the 95% interval that must clear the threshold is
    used — the lower bound for ``>=`` / ``>``, the upper bound for ``<=`` / ``<`` — so a check
    passes only when the evidence supports it; ``use="value"`` compares the point estimate.
    A failure shows this message at the test's line, not this function's source."""
    __tracebackhide__ = True
    if op not in _OPS:
        raise ValueError(f"op must be one of {sorted(_OPS)}, got {op!r}")
    match = cell or {}
    try:
        m = result.metric(metric, **match)
    except KeyError as exc:
        raise AssertionError(f"{metric}: {exc.args[0]}") from None
    if use == "value":
        observed, what = m.value, "value"
    elif op in (">=", ">"):
        observed, what = m.low, "95% lower bound"
    else:
        observed, what = m.high, "95% upper bound"
    where = ", ".join(f"{k}={v}" for k, v in match.items()) or "the only matching cell"
    if math.isnan(observed) or not _OPS[op](observed, threshold):
        raise AssertionError(f"{metric} {what} {observed:.4f} is not {op} {threshold} "
                             f"(value {m.value:.4f}, 95% interval [{m.low:.4f}, {m.high:.4f}], "
                             f"n={m.n}; cell: {where})")
