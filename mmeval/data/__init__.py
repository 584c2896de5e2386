"""Dataset adapters. Each yields :class:`~mmeval.types.Sample` with a stable ``sample_id``."""

from __future__ import annotations

from collections.abc import Sequence

from ..protocols import Dataset
from ..types import Sample


class Head:
    """The first ``n`` samples of ``dataset`` (what a task's ``limit`` selects); passes through
    ``class_names``, ``templates`` and the cheap accessors (``sample_id``, ``texts``) when the
    dataset has them."""

    def __init__(self, dataset: Dataset, n: int) -> None:
        self.dataset, self.n = dataset, min(n, len(dataset))
        self.class_names: Sequence[str] | None = getattr(dataset, "class_names", None)
        self.templates: Sequence[str] | None = getattr(dataset, "templates", None)

    def __len__(self) -> int:
        return self.n

    def _check(self, index: int) -> None:
        if not 0 <= index < self.n:
            raise IndexError(index)

    def __getitem__(self, index: int) -> Sample:
        self._check(index)
        return self.dataset[index]

    def sample_id(self, index: int) -> str:
        self._check(index)
        fn = getattr(self.dataset, "sample_id", None)
        return fn(index) if fn else self.dataset[index].sample_id

    def texts(self, index: int) -> tuple[str, ...]:
        self._check(index)
        fn = getattr(self.dataset, "texts", None)
        return tuple(fn(index)) if fn else self.dataset[index].texts
