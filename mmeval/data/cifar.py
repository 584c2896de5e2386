"""CIFAR-10 / CIFAR-100 (Krizhevsky, 2009) from the standard python-pickle batch files in a local
root. The pickles are read with an unpickler that admits only plain containers and numpy arrays."""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from ..errors import DataError
from ..registry import INPUT_LISTING, Params
from ..types import Sample

_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"), ("numpy", "dtype"), ("builtins", "bytes"), ("_codecs", "encode")}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a dataset file")


def _load(path: Path) -> dict[str, Any]:
    try:
        data = _SafeUnpickler(io.BytesIO(path.read_bytes()), encoding="latin1").load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise DataError(f"cannot read CIFAR file '{path}': {exc}") from None
    if not isinstance(data, dict):
        raise DataError(f"'{path}' is not a CIFAR batch file")
    return data


class CifarParams(Params):
    root: str = Field(description="folder holding cifar-10-batches-py/ or cifar-100-python/",
                      json_schema_extra=INPUT_LISTING)
    split: Literal["train", "test"] = "test"


class _Cifar:
    Params = CifarParams
    objectives: ClassVar[tuple[str, ...]] = ("classification",)
    modality: ClassVar[str] = "image"
    folder: ClassVar[str]
    files: ClassVar[dict[str, tuple[str, ...]]]
    meta: ClassVar[tuple[str, str]]  # (file, key of the class names)
    label_key: ClassVar[str]
    name: ClassVar[str]

    @classmethod
    def preflight(cls, params: CifarParams) -> None:
        """The split's batch files and the meta file exist (run by ``plan()``)."""
        base = Path(params.root).expanduser() / cls.folder
        expected = ", ".join(cls.files[params.split]) + f", {cls.meta[0]}"
        missing = [f for f in (*cls.files[params.split], cls.meta[0]) if not (base / f).is_file()]
        if missing:
            raise DataError(f"{cls.name}: '{base}' lacks {missing}; expected the python version of "
                            f"the dataset unpacked there ({expected}). Nothing is downloaded.")

    def __init__(self, params: CifarParams) -> None:
        self.params = params
        self.preflight(params)
        base = Path(params.root).expanduser() / self.folder
        images, labels = [], []
        for f in self.files[params.split]:
            batch = _load(base / f)
            try:
                images.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
                labels.extend(int(x) for x in batch[self.label_key])
            except (KeyError, ValueError) as exc:
                raise DataError(f"{self.name}: malformed batch '{base / f}': {exc}") from None
        import torch  # not at import: planning reads this module without torch

        self.images = torch.from_numpy(np.concatenate(images))
        self.labels = labels
        self.class_names = tuple(_load(base / self.meta[0])[self.meta[1]])
        if len(self.images) != len(self.labels):
            raise DataError(f"{self.name}: {len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    def sample_id(self, index: int) -> str:
        return f"{self.name}-{self.params.split}-{index:05d}"

    def label(self, index: int) -> int:
        return self.labels[index]

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < len(self):
            raise IndexError(index)
        return Sample(self.sample_id(index), self.images[index].float() / 255.0, self.labels[index])


class Cifar10(_Cifar):
    """CIFAR-10 test (10k) or train (50k) images at 32x32."""

    folder, name, label_key = "cifar-10-batches-py", "cifar10", "labels"
    files: ClassVar[dict[str, tuple[str, ...]]] = {
        "train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
    meta = ("batches.meta", "label_names")


class Cifar100(_Cifar):
    """CIFAR-100 (fine labels) test or train images at 32x32."""

    folder, name, label_key = "cifar-100-python", "cifar100", "fine_labels"
    files: ClassVar[dict[str, tuple[str, ...]]] = {"train": ("train",), "test": ("test",)}
    meta = ("meta", "fine_label_names")
