"""Built-in metrics, computed from stored per-sample records (never inside the attack loop), each
with a 95% Wilson score interval (Wilson, "Probable Inference...", JASA 1927)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import BaseModel

from .registry import NoParams
from .types import MetricValue, SampleRecord

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> MetricValue:
    """Proportion ``successes / n`` with its Wilson score interval; NaN value (interval [0, 1]) if n = 0."""
    if n == 0:
        return MetricValue(math.nan, 0.0, 1.0, 0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return MetricValue(p, max(0.0, centre - half), min(1.0, centre + half), n)


class _Metric:
    Params: ClassVar[type[BaseModel]] = NoParams
    scope: ClassVar[Literal["cell", "group"]] = "cell"

    def __init__(self, params: BaseModel | None = None) -> None:
        self.params = params or NoParams()


class CleanAccuracy(_Metric):
    """Share of samples the model gets right without attack."""

    def compute(self, records: Sequence[SampleRecord]) -> MetricValue:
        return wilson(sum(r.clean_correct for r in records), len(records))


class RobustAccuracy(_Metric):
    """Share of samples the model gets right on the attacked input."""

    def compute(self, records: Sequence[SampleRecord]) -> MetricValue:
        return wilson(sum(r.adv_correct for r in records), len(records))


class AttackSuccessRate(_Metric):
    """Among samples correct when clean, the share the attack makes wrong."""

    def compute(self, records: Sequence[SampleRecord]) -> MetricValue:
        correct = [r for r in records if r.clean_correct]
        return wilson(sum(not r.adv_correct for r in correct), len(correct))


class WorstCaseRobustAccuracy(_Metric):
    """Pointwise worst case over every attack of a (model, defense, task): a sample counts as
    correct only if it is correct under all attacks; samples missing from any attack are left out."""

    scope: ClassVar[Literal["cell", "group"]] = "group"

    def compute(self, records: Sequence[SampleRecord]) -> MetricValue:
        by_sample: dict[str, list[bool]] = defaultdict(list)
        for r in records:
            by_sample[r.sample_id].append(r.adv_correct)
        n_cells = len({r.cell_id for r in records})
        complete = [v for v in by_sample.values() if len(v) == n_cells]
        return wilson(sum(all(v) for v in complete), len(complete))
