"""Cost metrics of text attacks, from the per-sample ``words_changed`` / ``queries`` records."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import ClassVar, Literal

from mmeval import MetricValue, SampleRecord


class _MeanOf:
    key: ClassVar[str]
    scope: ClassVar[Literal["cell", "group"]] = "cell"
    objectives: ClassVar[tuple[str, ...] | None] = None
    unit: ClassVar[str] = "count"
    higher_is_better: ClassVar[bool | None] = None

    def __init__(self, params=None) -> None:
        self.params = params

    def compute(self, records: Sequence[SampleRecord]) -> MetricValue:
        values = [r.extra[self.key] for r in records if self.key in r.extra]
        if not values:
            return MetricValue(math.nan, math.nan, math.nan, 0)
        mean = statistics.fmean(values)
        half = 1.96 * statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
        return MetricValue(mean, mean - half, mean + half, len(values))


class WordsPerturbed(_MeanOf):
    """Mean number of words a text attack changed per sample (normal-approximation 95% CI)."""

    key = "words_changed"


class Queries(_MeanOf):
    """Mean number of victim text-encoder queries per sample (normal-approximation 95% CI)."""

    key = "queries"
