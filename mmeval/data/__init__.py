"""Dataset adapters. Each yields :class:`~mmeval.types.Sample` with a stable ``sample_id``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Literal

import numpy as np

from ..protocols import Dataset, dataset_modality
from ..types import Sample

Sampling = Literal["stratified", "first"]


class Subset:
    """The samples at ``indices`` of ``dataset`` (what a task's ``limit`` selects); passes through
    ``modality``, ``class_names``, ``templates`` and the cheap accessors (``sample_id``,
    ``texts``, ``label``) when the dataset has them."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset, self.indices = dataset, list(indices)
        self.modality = dataset_modality(dataset)
        self.class_names: Sequence[str] | None = getattr(dataset, "class_names", None)
        self.templates: Sequence[str] | None = getattr(dataset, "templates", None)

    def __len__(self) -> int:
        return len(self.indices)

    def _at(self, index: int) -> int:
        if not 0 <= index < len(self.indices):
            raise IndexError(index)
        return self.indices[index]

    def __getitem__(self, index: int) -> Sample:
        return self.dataset[self._at(index)]

    def sample_id(self, index: int) -> str:
        fn = getattr(self.dataset, "sample_id", None)
        return fn(self._at(index)) if fn else self.dataset[self._at(index)].sample_id

    def texts(self, index: int) -> tuple[str, ...]:
        fn = getattr(self.dataset, "texts", None)
        return tuple(fn(self._at(index))) if fn else self.dataset[self._at(index)].texts


def head(dataset: Dataset, n: int) -> Subset:
    """The first ``n`` samples of ``dataset``."""
    return Subset(dataset, range(min(n, len(dataset))))


def select(dataset: Dataset, limit: int | None, sampling: Sampling, seed: int) -> list[int]:
    """The positions a task evaluates: every one without a ``limit``; else the first ``limit``
    (``first``) or, with ``stratified``, classes in turn, each class's samples in a seeded
    order, so classes are as evenly represented as their counts allow. A dataset without a cheap
    ``label(index)`` gets a seeded uniform sample instead. A larger limit selects a superset."""
    n = len(dataset)
    if limit is None or limit >= n:
        return list(range(n))
    if sampling == "first":
        return list(range(limit))
    rng = np.random.default_rng(seed)
    label = getattr(dataset, "label", None)
    if label is None or not getattr(dataset, "class_names", None):
        return sorted(int(i) for i in rng.permutation(n)[:limit])
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        groups[int(label(i))].append(i)
    queues = [[members[j] for j in rng.permutation(len(members))]
              for _, members in sorted(groups.items())]
    chosen: list[int] = []
    depth = 0
    while len(chosen) < limit:
        chosen += [q[depth] for q in queues if depth < len(q)][:limit - len(chosen)]
        depth += 1
    return sorted(chosen)
