"""CLIP_benchmark's datasets as mmeval datasets (LAION's CLIP_benchmark,
https://github.com/LAION-AI/CLIP_benchmark). Each is read by CLIP_benchmark's
``build_dataset(..., download=False)`` with open_clip's evaluation transform minus its
normalization (the model normalizes inside its forward), so an image reaches the model exactly as
CLIP_benchmark feeds it. Class names and zero-shot templates are CLIP_benchmark's.

Nothing is downloaded: the root is checked against the dataset's layout before CLIP_benchmark
sees it (``preflight``, run by ``plan()``), and any fetch CLIP_benchmark would still attempt is
refused."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar, Literal

from pydantic import Field

from mmeval import INPUT, INPUT_LISTING, DataError, MissingDependencyError, Params, Sample

from .catalog import ENTRIES, FETCH, Entry


class ClassificationParams(Params):
    root: str = Field(description="the dataset's root, as CLIP_benchmark's --dataset_root (its "
                      "layout: docs/models-and-data.md)", json_schema_extra=INPUT_LISTING)
    split: str = Field(default="test", description="the split (the dataset's own names)")
    image_size: int = Field(default=224, ge=8, description="resize (shorter side) + centre-crop "
                            "size of open_clip's eval transform: the model's resolution")
    interpolation: Literal["bicubic", "bilinear", "nearest"] = Field(
        default="bicubic", description="resize interpolation (open_clip's default: bicubic)")
    resize_mode: Literal["shortest", "longest", "squash"] = Field(
        default="shortest", description="open_clip's resize mode (shortest: resize + centre-crop)")
    verify_checksums: bool = Field(
        default=True, description="let torchvision compare MD5 sums where it does (CIFAR, STL-10, "
        "Flowers-102); false accepts re-packed or fabricated copies")


class RetrievalParams(ClassificationParams):
    annotation: str | None = Field(default=None, description="the captions file; default: "
                                   "CLIP_benchmark's Karpathy-split file under root",
                                   json_schema_extra=INPUT)


def check_root(entry: Entry, params: ClassificationParams) -> None:
    """DataError (or MissingDependencyError) unless ``params.root`` matches ``entry``'s layout."""
    what = f"clip-benchmark/{entry.name}"
    missing_pkgs = [m for m in entry.needs if importlib.util.find_spec(m) is None]
    if missing_pkgs:
        raise MissingDependencyError(
            f"{what} is read through TensorFlow Datasets and needs {', '.join(missing_pkgs)} "
            "(pip install tensorflow-datasets, and task_adaptation from "
            "github.com/google-research/task_adaptation)")
    if params.split not in entry.splits:
        raise DataError(f"{what} has no split '{params.split}'; choose from {list(entry.splits)}")
    root = Path(params.root).expanduser()
    expected = f"expected {entry.layout}"
    if not root.is_dir():
        raise DataError(f"{what}: root '{root}' does not exist; {expected}; {FETCH}")
    annotation = getattr(params, "annotation", None)
    required = entry.paths(params.split)[1 if annotation else 0:]
    missing = [p for p in required if not (root / p).exists()]
    if annotation and not Path(annotation).expanduser().is_file():
        missing.insert(0, annotation)
    if missing:
        raise DataError(f"{what}: '{root}' lacks {', '.join(missing)}; {expected}; {FETCH}")
    if entry.class_dirs:
        folder = root / entry.path(entry.class_dirs[0], params.split)
        found = sum(1 for d in folder.iterdir() if d.is_dir())
        if found != entry.class_dirs[1]:
            raise DataError(f"{what}: '{folder}' holds {found} class folders, not "
                            f"{entry.class_dirs[1]}; CLIP_benchmark names classes by position, so "
                            f"a partial copy would mislabel images; {expected}; {FETCH}")
    if entry.file_count:
        folder, pattern, count = entry.file_count
        found = sum(1 for _ in (root / folder).glob(pattern))
        if found != count:
            raise DataError(f"{what}: '{root / folder}' holds {found} of its {count} images and "
                            f"CLIP_benchmark would fetch the archive; {expected}; {FETCH}")


def eval_transform(params: ClassificationParams) -> Any:
    """open_clip's evaluation transform to [0, 1] tensors (its normalization made the identity)."""
    from open_clip.transform import image_transform

    return image_transform(params.image_size, is_train=False, mean=(0.0, 0.0, 0.0),
                           std=(1.0, 1.0, 1.0), resize_mode=params.resize_mode,
                           interpolation=params.interpolation)


@contextmanager
def offline(what: str) -> Iterator[None]:
    """Refuse any fetch CLIP_benchmark's readers attempt (they shell out to wget/kaggle or use
    requests when files are missing)."""
    from clip_benchmark.datasets import builder, imagenetv2

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise DataError(f"{what}: CLIP_benchmark tried to fetch missing files ({args[:1]}); "
                        f"{FETCH}")

    saved = builder.call, imagenetv2.requests
    builder.call, imagenetv2.requests = refuse, SimpleNamespace(get=refuse)
    try:
        yield
    finally:
        builder.call, imagenetv2.requests = saved


@contextmanager
def checksums(verify: bool) -> Iterator[None]:
    """With ``verify`` False, torchvision's integrity checks only ask that the files exist."""
    if verify:
        yield
        return
    from torchvision.datasets import cifar, flowers102, stl10

    def exists(fpath: str, md5: str | None = None) -> bool:
        return os.path.isfile(fpath)

    modules = (cifar, stl10, flowers102)
    saved = [m.check_integrity for m in modules]
    for m in modules:
        m.check_integrity = exists
    try:
        yield
    finally:
        for m, fn in zip(modules, saved, strict=True):
            m.check_integrity = fn


def caltech256_name(folder: str) -> str:
    """``"145.motorbikes-101"`` -> ``"motorbikes"``: the category folder without its number."""
    name = folder.split(".", 1)[-1]
    return name.removesuffix("-101").replace("-", " ").replace("_", " ")


def build_source(entry: Entry, params: ClassificationParams) -> Any:
    """The CLIP_benchmark dataset for ``entry`` (images through :func:`eval_transform`)."""
    from clip_benchmark.datasets import builder

    what = f"clip-benchmark/{entry.name}"
    check_root(entry, params)
    root = str(Path(params.root).expanduser())
    task = "zeroshot_classification" if entry.kind == "classification" else "zeroshot_retrieval"
    try:
        with offline(what), checksums(params.verify_checksums), warnings.catch_warnings(), \
                redirect_stdout(io.StringIO()):  # pycocotools reports its progress on stdout
            warnings.simplefilter("ignore")  # "split argument ignored" for unsplit datasets
            if entry.in_builder:
                return builder.build_dataset(
                    entry.name, root=root, transform=eval_transform(params), split=params.split,
                    download=False, task=task, annotation_file=getattr(params, "annotation", None))
            from clip_benchmark.datasets.caltech101 import Caltech256

            source = Caltech256(root=root, transform=eval_transform(params), download=False)
            source.classes = [caltech256_name(c) for c in source.categories]
            templates = Path(builder.__file__).parent / "en_zeroshot_classification_templates.json"
            source.templates = json.loads(templates.read_text())["caltech101"]
            return source
    except DataError:
        raise
    except Exception as exc:  # torchvision and CLIP_benchmark raise RuntimeError, OSError, ...
        sums = (" torchvision also compares the files' MD5 sums with the published ones: pass "
                "verify_checksums=false for a re-packed copy." if entry.checksummed and
                params.verify_checksums else "")
        raise DataError(f"{what}: CLIP_benchmark cannot read '{root}' ({type(exc).__name__}: "
                        f"{exc}); expected {entry.layout}.{sums}") from exc


#: where CLIP_benchmark's readers (torchvision's mostly) keep each sample's file
_FILE_LISTS = ("samples", "_samples", "_image_files", "_images", "fnames")


def source_file(source: Any, index: int) -> str | None:
    """The file sample ``index`` of ``source`` is read from, if its reader lists files."""
    for attr in _FILE_LISTS:
        files = getattr(source, attr, None)
        if files is not None:
            item = files[index]
            return str(item[0] if isinstance(item, tuple) else item)
    return None


class CLIPBenchmarkDataset:
    """A CLIP_benchmark dataset; the registered names subclass it with their catalog entry."""

    entry: ClassVar[Entry]
    Params: ClassVar[type[ClassificationParams]] = ClassificationParams

    @classmethod
    def preflight(cls, params: ClassificationParams) -> None:
        """Checks the root against the layout (run by ``plan()``, before any model is built)."""
        check_root(cls.entry, params)

    def __init__(self, params: ClassificationParams) -> None:
        self.params = params
        self.source = build_source(self.entry, params)

    def __len__(self) -> int:
        return len(self.source)

    def sample_id(self, index: int) -> str:
        """The sample's file relative to the root where the reader lists files (stable however
        the file system orders a listing), else its position in the split."""
        file = source_file(self.source, index)
        where = (os.path.relpath(file, Path(self.params.root).expanduser()) if file
                 else f"{index:07d}")
        return f"{self.entry.name}/{self.params.split}/{where}"


class Classification(CLIPBenchmarkDataset):
    """Images with CLIP_benchmark's class names and zero-shot templates."""

    objectives: ClassVar[tuple[str, ...]] = ("classification",)

    modality: ClassVar[str] = "image"

    def __init__(self, params: ClassificationParams) -> None:
        super().__init__(params)
        self.class_names: tuple[str, ...] = tuple(self.source.classes)
        self.templates: Sequence[str] | dict[str, list[str]] = self.source.templates

    def label(self, index: int) -> int:
        """The class of sample ``index`` from the reader's label list, without its image (PCAM
        and ObjectNet have none: their image is read)."""
        for attr in ("targets", "_labels", "labels", "y"):
            labels = getattr(self.source, attr, None)
            if labels is not None:
                fix = self.source.target_transform  # CLIP_benchmark's Flowers-102 label shift
                return int(fix(labels[index]) if fix else labels[index])
        return int(self.source[index][1])

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < len(self):
            raise IndexError(index)
        image, label = self.source[index]
        return Sample(self.sample_id(index), image, int(label))


class Retrieval(CLIPBenchmarkDataset):
    """Images with their captions, as CLIP_benchmark reads them (no caption clean-up); the sample
    id is the image's file name."""

    Params: ClassVar[type[ClassificationParams]] = RetrievalParams
    objectives: ClassVar[tuple[str, ...]] = ("retrieval",)
    modality: ClassVar[str] = "image"
    class_names = None

    def sample_id(self, index: int) -> str:
        coco = getattr(self.source, "coco", None)
        if coco is not None:
            return str(coco.loadImgs(self.source.ids[index])[0]["file_name"])
        return str(self.source.data[index][0])

    def texts(self, index: int) -> tuple[str, ...]:
        coco = getattr(self.source, "coco", None)
        if coco is not None:
            anns = coco.loadAnns(coco.getAnnIds(self.source.ids[index]))
            return tuple(a["caption"] for a in anns)
        return tuple(self.source.data[index][1])

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < len(self):
            raise IndexError(index)
        image, captions = self.source[index]
        return Sample(self.sample_id(index), image, None, tuple(captions))


def _subclass(entry: Entry) -> type[CLIPBenchmarkDataset]:
    base = Classification if entry.kind == "classification" else Retrieval
    return type(entry.class_name, (base,), {
        "entry": entry, "__module__": __name__,
        "__doc__": f"{entry.summary}, read by CLIP_benchmark. Layout: {entry.layout}."})


globals().update({e.class_name: _subclass(e) for e in ENTRIES.values()})
