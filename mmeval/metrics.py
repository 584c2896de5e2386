"""Built-in metrics, computed from stored per-sample records (never inside the attack loop), each
with a 95% Wilson score interval (Wilson, "Probable Inference...", JASA 1927)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from .registry import NoParams, Params
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
    # the interval contains p; min/max only guard against float round-off at p = 0 or 1
    return MetricValue(p, max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)), n)


def average(values: Sequence[MetricValue], z: float = Z95) -> MetricValue:
    """The mean of ``values`` (e.g. one accuracy per dataset of a suite). Its interval treats each
    value's interval as an independent normal one (half-width / z as its standard error):
    mean +- z * sqrt(sum se_i^2) / k, clipped to [0, 1]; NaN if any value is NaN."""
    if not values or any(math.isnan(v.value) for v in values):
        return MetricValue(math.nan, 0.0, 1.0, sum(v.n for v in values))
    k = len(values)
    mean = sum(v.value for v in values) / k
    half = z * math.sqrt(sum(((v.high - v.low) / (2 * z)) ** 2 for v in values)) / k
    return MetricValue(mean, max(0.0, mean - half), min(1.0, mean + half), sum(v.n for v in values))


class _Metric:
    Params: ClassVar[type[BaseModel]] = NoParams
    scope: ClassVar[Literal["cell", "group"]] = "cell"
    unit: ClassVar[str] = "share"
    #: objective kinds whose records the metric understands (None: any)
    objectives: ClassVar[tuple[str, ...] | None] = ("classification",)
    #: which way is better for the evaluated model (None: neither)
    higher_is_better: ClassVar[bool | None] = True

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

    higher_is_better: ClassVar[bool | None] = False

    def compute(self, records: Sequence[SampleRecord]) -> MetricValue:
        correct = [r for r in records if r.clean_correct]
        return wilson(sum(not r.adv_correct for r in correct), len(correct))


class AccuracyDrop(_Metric):
    """Clean accuracy minus robust accuracy (an absolute drop), with a 95% percentile bootstrap
    interval over samples (1000 resamples, fixed seed)."""

    higher_is_better: ClassVar[bool | None] = False

    def compute(self, records: Sequence[SampleRecord]) -> MetricValue:
        return paired_drop([r.clean_correct for r in records], [r.adv_correct for r in records])


class FoolingRate(_Metric):
    """Share of samples whose prediction the attack changes, right or wrong before (AdvCLIP's
    fooling rate; for retrieval the prediction is the image owning the top-ranked caption)."""

    higher_is_better: ClassVar[bool | None] = False

    objectives: ClassVar[tuple[str, ...] | None] = ("classification", "retrieval")

    def compute(self, records: Sequence[SampleRecord]) -> MetricValue:
        return wilson(sum(r.clean_pred != r.adv_pred for r in records), len(records))


def paired_drop(clean: Sequence[bool], adv: Sequence[bool]) -> MetricValue:
    """Mean of ``clean - adv`` over paired outcomes with a 95% percentile bootstrap interval."""
    import torch

    n = len(clean)
    if n == 0:
        return MetricValue(math.nan, 0.0, 1.0, 0)
    diff = torch.tensor(clean, dtype=torch.float64) - torch.tensor(adv, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    boots = diff[torch.randint(0, n, (1000, n), generator=g)].mean(dim=1)
    low, high = torch.quantile(boots, torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()
    return MetricValue(float(diff.mean()), low, high, n)


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


# -- retrieval (ALBEF-style: TR@K uses the best-ranked ground-truth caption) -----------------------

Direction = Literal["tr", "ir"]


def retrieval_hits(records: Sequence[SampleRecord], which: Literal["clean", "adv"], direction: Direction,
                   k: int) -> list[bool]:
    """Per-query hits at ``k`` over the gallery rebuilt from the records' embeddings: one query per
    image for ``tr`` (image->text), one per caption for ``ir`` (text->image)."""
    if not records:
        return []
    import torch

    images = torch.stack([r.arrays[f"{which}_image"] for r in records])
    texts = [r.arrays[f"{which}_text"] for r in records]
    owner = torch.cat([torch.full((len(t),), i) for i, t in enumerate(texts)])
    sims = images @ torch.cat(texts).T  # [N images, T captions]
    if direction == "tr":
        best_gt = sims.masked_fill(owner[None, :] != torch.arange(len(records))[:, None],
                                   float("-inf")).amax(dim=1)
        ranks = (sims > best_gt[:, None]).sum(dim=1)
    else:
        gt = sims[owner, torch.arange(len(owner))]
        ranks = (sims > gt[None, :]).sum(dim=0)
    return (ranks < k).tolist()


class RetrievalParams(Params):
    direction: Direction = "tr"
    k: int = Field(default=1, ge=1)


class _RetrievalMetric(_Metric):
    objectives: ClassVar[tuple[str, ...] | None] = ("retrieval",)
    Params: ClassVar[type[BaseModel]] = RetrievalParams
    params: RetrievalParams

    def __init__(self, params: BaseModel | None = None) -> None:
        super().__init__(params or self.Params())


class RecallAtK(_RetrievalMetric):
    """Recall at K after the attack: TR@K (image->text, an image is found if its best-ranked
    ground-truth caption is within K) or IR@K (text->image), over the task's full gallery."""

    def compute(self, records: Sequence[SampleRecord]) -> MetricValue:
        hits = retrieval_hits(records, "adv", self.params.direction, self.params.k)
        return wilson(sum(hits), len(hits))


def _recall(direction: Direction, k: int) -> type[RecallAtK]:
    class Fixed(RecallAtK):
        Params: ClassVar[type[BaseModel]] = NoParams

        def __init__(self, params: BaseModel | None = None) -> None:
            _Metric.__init__(self, params)
            self.params = RetrievalParams(direction=direction, k=k)  # type: ignore[assignment]

    Fixed.__name__ = Fixed.__qualname__ = f"{direction.upper()}{k}"
    Fixed.__doc__ = f"{direction.upper()}@{k} after the attack over the full gallery (" + (
        "image->text, best-ranked ground-truth caption)." if direction == "tr" else "text->image).")
    return Fixed


TR1, TR5, TR10 = (_recall("tr", k) for k in (1, 5, 10))
IR1, IR5, IR10 = (_recall("ir", k) for k in (1, 5, 10))


class ASRAbsolute(_RetrievalMetric):
    """Co-Attack's ASR: clean R@K minus adversarial R@K (an absolute drop), with a 95% percentile
    bootstrap interval over queries (1000 resamples, fixed seed)."""

    higher_is_better: ClassVar[bool | None] = False

    def compute(self, records: Sequence[SampleRecord]) -> MetricValue:
        p = self.params
        return paired_drop(retrieval_hits(records, "clean", p.direction, p.k),
                           retrieval_hits(records, "adv", p.direction, p.k))


class ASRRelative(_RetrievalMetric):
    """SGA's ASR: among queries correct at R@K before the attack, the share incorrect after it."""

    higher_is_better: ClassVar[bool | None] = False

    def compute(self, records: Sequence[SampleRecord]) -> MetricValue:
        p = self.params
        clean = retrieval_hits(records, "clean", p.direction, p.k)
        adv = retrieval_hits(records, "adv", p.direction, p.k)
        before = [a for c, a in zip(clean, adv, strict=True) if c]
        return wilson(sum(not a for a in before), len(before))
