"""Every dataset a built-in suite names loads from a root fabricated in its real on-disk layout,
with CLIP_benchmark's class names and templates and the sample count written; the registry holds
every CLIP_benchmark dataset that reads from a local root."""

from pathlib import Path

import pytest
import torch
from mmeval_clip_benchmark.catalog import ENTRIES, markdown_table
from mmeval_clip_benchmark.fabricate import fabricate
from mmeval_clip_benchmark.suites import FARE, ImageNetShifts, RetrievalSuite, TeCoA

import mmeval

SUITE_DATASETS = sorted({n for s in (TeCoA, FARE, ImageNetShifts, RetrievalSuite)
                         for n in s.members})

#: (number of classes, first class name, another class name) each fabricated root must yield:
#: from the files written where the reader names classes from them, from CLIP_benchmark's class
#: name tables where it overrides them
CLASSES = {
    "cifar10": (10, "red", "brown"),
    "cifar100": (100, "red circle", "brown heart"),
    "stl10": (10, "red", "brown"),
    "imagenet1k": (1000, "tench", "toilet paper"),
    "imagenetv2": (1000, "tench", "toilet paper"),
    "imagenet_sketch": (1000, "tench", "toilet paper"),
    "imagenet-a": (200, "stingray", "acorn"),
    "imagenet-r": (200, "goldfish", "acorn"),
    "caltech101": (102, "background", "yin and yang symbol"),
    "caltech256": (257, "object 1", "clutter"),
    "pets": (37, "Breed1", "Breed37"),
    "flowers": (102, "pink primrose", "blackberry lily"),
    "fgvc_aircraft": (4, "707-320", "F-16A/B"),
    "cars": (3, "AM General Hummer SUV 2000", "Audi TT Hatchback 2011"),
    "sun397": (3, "abbey", "church outdoor"),
    "food101": (2, "apple pie", "baby back ribs"),
    "eurosat": (10, "annual crop land", "lake or sea"),
    "dtd": (3, "banded", "braided"),
    "pcam": (2, "lymph node", "lymph node containing metastatic tumor tissue"),
    "country211": (211, "Andorra", "Zimbabwe"),
}


def test_every_local_clip_benchmark_dataset_is_registered():
    names = set(mmeval.list_components("dataset"))
    required = [*TeCoA.members, *ImageNetShifts.members, "imagenet-o", "objectnet", "mnist",
                "gtsrb", "renderedsst2", "fer2013", "voc2007", "flickr8k", "flickr30k",
                "mscoco_captions", "vtab/caltech101", "vtab/svhn", "vtab/resisc45"]
    assert {f"clip-benchmark/{n}" for n in required} <= names
    assert {"clip-benchmark/tecoa", "clip-benchmark/fare", "clip-benchmark/imagenet-shifts",
            "clip-benchmark/retrieval"} <= set(mmeval.list_components("suite"))
    assert len(TeCoA.members) == 16 and len(FARE.members) == 13


@pytest.mark.parametrize("name", SUITE_DATASETS)
def test_fabricated_root_loads_with_its_class_names_and_count(name, tmp_path):
    written = fabricate(name, tmp_path)
    ds = mmeval.create("dataset", f"clip-benchmark/{name}", root=str(tmp_path), image_size=16,
                       verify_checksums=False)
    assert len(ds) == written
    ids = [ds.sample_id(i) for i in range(len(ds))]
    assert len(set(ids)) == len(ids)
    last = ds[len(ds) - 1]
    assert last.sample_id == ids[-1]
    assert last.image.shape == (3, 16, 16) and last.image.dtype == torch.float32
    assert 0.0 <= float(last.image.min()) <= float(last.image.max()) <= 1.0
    if ENTRIES[name].kind == "retrieval":
        assert ds.class_names is None
        assert last.texts == ds.texts(len(ds) - 1) and len(last.texts) == 2
        assert all("photo number" in t or "described" in t for t in last.texts)
        return
    count, first, other = CLASSES[name]
    assert len(ds.class_names) == count
    assert ds.class_names[0] == first and other in ds.class_names
    picked = range(0, len(ds), max(1, len(ds) // 25))
    labels = {ds[i].label for i in picked}
    assert labels <= set(range(count)) and len(labels) > 1
    assert [ds.label(i) for i in picked] == [ds[i].label for i in picked]  # the cheap accessor
    assert ds.templates and all(t.count("{c}") == 1 for t in ds.templates)


def test_fabricated_roots_keep_the_layouts_distinct(tmp_path):
    """A root written for one dataset is not accepted as another's."""
    fabricate("dtd", tmp_path)
    with pytest.raises(mmeval.DataError, match="clip-benchmark/food101: .* lacks"):
        mmeval.create("dataset", "clip-benchmark/food101", root=str(tmp_path))


def test_the_documented_layouts_are_the_checked_ones():
    docs = Path(__file__).resolve().parents[3] / "docs" / "models-and-data.md"
    assert markdown_table() in docs.read_text()
