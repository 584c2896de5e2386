"""Multi-Shield's metrics (Villani et al., arXiv 2412.10353): rejection rate and robust accuracy
with rejection, pure functions of the journaled records (no torch)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field

from mmeval import MetricValue, Params, SampleRecord, wilson


class RejectionRateParams(Params):
    on: Literal["clean", "adv"] = Field(default="adv", description="clean or attacked inputs")


class RejectionRate:
    """Share of samples the detector rejects (0 for a model without a reject class)."""

    Params = RejectionRateParams
    scope: ClassVar[str] = "cell"
    unit: ClassVar[str] = "share"
    objectives: ClassVar[tuple[str, ...] | None] = ("classification",)
    higher_is_better: ClassVar[bool | None] = None  # rejecting attacks is good, clean ones not

    def __init__(self, params: RejectionRateParams | None = None) -> None:
        self.params = params or RejectionRateParams()

    def compute(self, records: Sequence[SampleRecord]) -> MetricValue:
        key = f"{self.params.on}_rejected"
        return wilson(sum(bool(r.extra.get(key, False)) for r in records), len(records))


class RobustAccuracyWithRejection:
    """Share of attacked samples predicted right or rejected (Multi-Shield's robust accuracy)."""

    scope: ClassVar[str] = "cell"
    unit: ClassVar[str] = "share"
    objectives: ClassVar[tuple[str, ...] | None] = ("classification",)
    higher_is_better: ClassVar[bool | None] = True

    def __init__(self, params: Any = None) -> None:
        self.params = params

    def compute(self, records: Sequence[SampleRecord]) -> MetricValue:
        return wilson(sum(r.adv_correct or bool(r.extra.get("adv_rejected", False))
                          for r in records), len(records))
