"""Tiny datasets written in each CLIP_benchmark dataset's real on-disk layout, for tests and
demos without the data: noisy images tinted by class, made-up class folders and captions, the
files and formats the readers expect (pickles, binaries, .mat, HDF5, JSON, CSV). Their checksums
cannot match the published archives, so read them with ``verify_checksums=False``.

``fabricate(name, root)`` writes one dataset and returns how many samples its test split holds;
``fabricate_suite(root, names)`` writes each under ``root/<folder>`` as a suite reads them."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from .catalog import ENTRIES

#: ``writer(root, rng, name) -> samples``: the dataset ``name`` into ``root``
Writer = Callable[[Path, np.random.Generator, str], int]
WRITERS: dict[str, Writer] = {}


def _writer(*names: str) -> Callable[[Writer], Writer]:
    def register(fn: Writer) -> Writer:
        WRITERS.update(dict.fromkeys(names, fn))
        return fn
    return register


#: the tint of class k's images is colour k % 10, so a model can tell classes apart
COLORS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (50, 90, 230),
          "yellow": (235, 220, 50), "purple": (140, 60, 190), "orange": (245, 140, 30),
          "cyan": (50, 210, 220), "pink": (245, 135, 200), "white": (245, 245, 245),
          "brown": (130, 80, 40)}
SHAPES = ("circle", "square", "triangle", "star", "cross", "ring", "diamond", "crescent", "arrow",
          "heart")


def _pixels(rng: np.random.Generator, label: int, shape: tuple[int, ...]) -> np.ndarray:
    """uint8 pixels (channels last) of class ``label``'s tint plus noise."""
    tint = np.array(list(COLORS.values())[label % len(COLORS)], dtype=np.int16)
    noise = rng.integers(-40, 41, (*shape, 3), dtype=np.int16)
    return np.clip(tint + noise, 0, 255).astype(np.uint8)


def _image(path: Path, rng: np.random.Generator, label: int = 0, size: int = 12) -> None:
    """A noisy image of class ``label``'s tint, its format from the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_pixels(rng, label, (size, size + 2))).save(path)


def _lines(path: Path, lines: Iterable[str]) -> None:
    """A text file of ``lines``, its folder made first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _folders(root: Path, names: Iterable[str], rng: np.random.Generator, per_class: int = 1,
             file: str = "{i}.jpg") -> int:
    """``root/<name>/<file>`` images, ``per_class`` in each folder; the number written."""
    n = 0
    for label, name in enumerate(names):
        for i in range(per_class):
            _image(root / name / file.format(i=i + 1), rng, label)
            n += 1
    return n


def _wnids(count: int) -> list[str]:
    return [f"n{i:08d}" for i in range(count)]


@_writer("cifar10", "cifar100")
def _cifar(root: Path, rng: np.random.Generator, name: str) -> int:
    ten = name == "cifar10"
    classes, n = (10 if ten else 100), (20 if ten else 200)
    base = root / ("cifar-10-batches-py" if ten else "cifar-100-python")
    base.mkdir(parents=True, exist_ok=True)
    key = "labels" if ten else "fine_labels"

    def batch(count: int) -> dict[str, object]:
        labels = [i % classes for i in range(count)]
        data = [_pixels(rng, y, (32, 32)).transpose(2, 0, 1).reshape(-1) for y in labels]
        return {"data": np.stack(data), key: labels}

    files = ({"test_batch": n, **{f"data_batch_{i}": 10 for i in range(1, 6)}} if ten
             else {"test": n, "train": 10})
    for file, count in files.items():
        (base / file).write_bytes(pickle.dumps(batch(count)))
    meta = ("batches.meta", "label_names") if ten else ("meta", "fine_label_names")
    names = list(COLORS) if ten else [f"{c} {s}" for c in COLORS for s in SHAPES]
    (base / meta[0]).write_bytes(pickle.dumps({meta[1]: names}))
    return n


@_writer("stl10")
def _stl10(root: Path, rng: np.random.Generator, name: str) -> int:
    base = root / "stl10_binary"
    base.mkdir(parents=True, exist_ok=True)
    n = 20
    for split, count in (("test", n), ("train", 10)):
        labels = [i % 10 for i in range(count)]  # stored 1-based, column-major images
        np.stack([_pixels(rng, y, (96, 96)).transpose(2, 1, 0) for y in labels]).tofile(
            base / f"{split}_X.bin")
        np.array(labels, dtype=np.uint8).__add__(1).tofile(base / f"{split}_y.bin")
    rng.integers(0, 256, 3 * 96 * 96, dtype=np.uint8).tofile(base / "unlabeled_X.bin")
    _lines(base / "class_names.txt", COLORS)
    return n


@_writer("imagenet1k", "imagenet1k-unverified")
def _imagenet(root: Path, rng: np.random.Generator, name: str) -> int:
    import torch

    wnids = _wnids(1000)
    torch.save(({w: (f"name of {w}",) for w in wnids}, wnids), root / "meta.bin")
    return _folders(root / "val", wnids, rng, file="ILSVRC2012_val_{i:08d}.JPEG")


@_writer("imagenet_sketch")
def _sketch(root: Path, rng: np.random.Generator, name: str) -> int:
    return _folders(root, _wnids(1000), rng, file="sketch_{i}.JPEG")


@_writer("imagenet-a", "imagenet-r", "imagenet-o")
def _imagenet200(root: Path, rng: np.random.Generator, name: str) -> int:
    return _folders(root, _wnids(200), rng)


@_writer("imagenetv2")
def _imagenetv2(root: Path, rng: np.random.Generator, name: str) -> int:
    return _folders(root / "ImageNetV2-matched-frequency", map(str, range(1000)), rng,
                    per_class=10, file="{i}.jpeg")


@_writer("caltech101")
def _caltech101(root: Path, rng: np.random.Generator, name: str) -> int:
    names = ["BACKGROUND_Google", *(f"category_{i:03d}" for i in range(101))]
    return _folders(root / "caltech101" / "101_ObjectCategories", names, rng,
                    file="image_{i:04d}.jpg")


@_writer("caltech256")
def _caltech256(root: Path, rng: np.random.Generator, name: str) -> int:
    base = root / "caltech256" / "256_ObjectCategories"
    n = 0
    for k in range(1, 258):
        name = "clutter" if k == 257 else f"object-{k}"
        _image(base / f"{k:03d}.{name}" / f"{k:03d}_0001.jpg", rng, k - 1)
        n += 1
    return n


@_writer("pets")
def _pets(root: Path, rng: np.random.Generator, name: str) -> int:
    base = root / "oxford-iiit-pet"
    lines = []
    for label in range(1, 38):
        image_id = f"breed{label}_1"
        _image(base / "images" / f"{image_id}.jpg", rng, label - 1)
        lines.append(f"{image_id} {label} {1 + label % 2} 1")
    _lines(base / "annotations" / "test.txt", lines)
    return len(lines)


@_writer("flowers")
def _flowers(root: Path, rng: np.random.Generator, name: str) -> int:
    from scipy.io import savemat

    base = root / "flowers-102"
    labels = np.arange(1, 103)  # image k (1-based) is of class k; the first is class 1
    for k in range(1, 103):
        _image(base / "jpg" / f"image_{k:05d}.jpg", rng, k - 1)
    savemat(base / "imagelabels.mat", {"labels": labels})
    savemat(base / "setid.mat", {"trnid": np.array([1, 2]), "valid": np.array([3, 4]),
                                 "tstid": np.arange(1, 103)})
    return 102


@_writer("fgvc_aircraft")
def _aircraft(root: Path, rng: np.random.Generator, name: str) -> int:
    data = root / "fgvc-aircraft-2013b" / "data"
    variants = ["707-320", "A300B4", "Cessna 172", "F-16A/B"]
    lines = []
    for i, v in enumerate(variants * 2):
        _image(data / "images" / f"{1000 + i}.jpg", rng, i % len(variants))
        lines.append(f"{1000 + i} {v}")
    _lines(data / "variants.txt", variants)
    _lines(data / "images_variant_test.txt", lines)
    return len(lines)


@_writer("cars")
def _cars(root: Path, rng: np.random.Generator, name: str) -> int:
    from scipy.io import savemat

    base = root / "stanford_cars"
    names = ["AM General Hummer SUV 2000", "Acura RL Sedan 2012", "Audi TT Hatchback 2011"]
    annos = np.zeros(6, dtype=[("fname", "O"), ("class", "O")])
    for i in range(6):
        fname = f"{i + 1:05d}.jpg"
        _image(base / "cars_test" / fname, rng, i % len(names))
        annos[i] = (fname, 1 + i % len(names))
    (base / "devkit").mkdir(parents=True, exist_ok=True)
    savemat(base / "devkit" / "cars_meta.mat", {"class_names": np.array(names, dtype=object)})
    savemat(base / "cars_test_annos_withlabels.mat", {"annotations": annos})
    return 6


@_writer("sun397")
def _sun397(root: Path, rng: np.random.Generator, name: str) -> int:
    base = root / "SUN397"
    classes = ["/a/abbey", "/b/bus_interior", "/c/church/outdoor"]
    for label, c in enumerate(classes):
        for i in range(2):
            _image(base / c[1:] / f"sun_{label}{i}.jpg", rng, label)
    _lines(base / "ClassName.txt", classes)
    return 2 * len(classes)


@_writer("food101")
def _food101(root: Path, rng: np.random.Generator, name: str) -> int:
    base = root / "food-101"
    meta = {c: [f"{c}/{100 + i}" for i in range(2)] for c in ("apple_pie", "baby_back_ribs")}
    for label, paths in enumerate(meta.values()):
        for p in paths:
            _image(base / "images" / f"{p}.jpg", rng, label)
    (base / "meta").mkdir(parents=True, exist_ok=True)
    (base / "meta" / "test.json").write_text(json.dumps(meta))
    return 4


@_writer("eurosat")
def _eurosat(root: Path, rng: np.random.Generator, name: str) -> int:
    return _folders(root / "eurosat" / "2750", [f"Class{i}" for i in range(10)], rng)


@_writer("dtd")
def _dtd(root: Path, rng: np.random.Generator, name: str) -> int:
    data = root / "dtd" / "dtd"
    lines = [f"{c}/{c}_{i}.jpg" for c in ("banded", "blotchy", "braided") for i in range(2)]
    for i, line in enumerate(lines):
        _image(data / "images" / line, rng, i // 2)
    _lines(data / "labels" / "test1.txt", lines)
    return len(lines)


@_writer("pcam")
def _pcam(root: Path, rng: np.random.Generator, name: str) -> int:
    import h5py

    base = root / "pcam"
    base.mkdir(parents=True, exist_ok=True)
    n = 6
    with h5py.File(base / "camelyonpatch_level_2_split_test_x.h5", "w") as f:
        f["x"] = np.stack([_pixels(rng, i % 2, (96, 96)) for i in range(n)])
    with h5py.File(base / "camelyonpatch_level_2_split_test_y.h5", "w") as f:
        f["y"] = np.array([i % 2 for i in range(n)], dtype=np.uint8).reshape(n, 1, 1, 1)
    return n


@_writer("country211")
def _country211(root: Path, rng: np.random.Generator, name: str) -> int:
    codes = [f"{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(211)]
    return _folders(root / "country211" / "test", codes, rng)


#: retrieval sets: 10 images, two of each of five tints, each with two captions naming its tint
RETRIEVAL_IMAGES, RETRIEVAL_TINTS = 10, 5


@_writer("flickr8k", "flickr30k")
def _flickr(root: Path, rng: np.random.Generator, name: str) -> int:
    lines = ["image,caption"]
    for i in range(RETRIEVAL_IMAGES):
        color = list(COLORS)[i % RETRIEVAL_TINTS]
        _image(root / f"{1000 + i}.jpg", rng, i % RETRIEVAL_TINTS)
        lines += [f"{1000 + i}.jpg,a {color} photo number {i}, seen from the {side}"
                  for side in ("left", "right")]
    _lines(root / f"{name}_test_karpathy.txt", lines)
    return RETRIEVAL_IMAGES


@_writer("mscoco_captions")
def _coco(root: Path, rng: np.random.Generator, name: str) -> int:
    images, annotations = [], []
    for i in range(RETRIEVAL_IMAGES):
        file_name = f"COCO_val2014_{i + 1:012d}.jpg"
        _image(root / "val2014" / file_name, rng, i % RETRIEVAL_TINTS)
        images.append({"id": i + 1, "file_name": file_name})
        color = list(COLORS)[i % RETRIEVAL_TINTS]
        annotations += [{"id": 10 * (i + 1) + k, "image_id": i + 1,
                         "caption": f"a {color} scene {i} described the {k}th way"}
                        for k in range(2)]
    (root / "coco_test_karpathy.json").write_text(
        json.dumps({"images": images, "annotations": annotations}))
    return RETRIEVAL_IMAGES


def fabricate(name: str, root: str | Path, seed: int = 0) -> int:
    """Write dataset ``name`` (its test split) into ``root``; the number of samples written."""
    if name not in WRITERS:
        raise KeyError(f"no fabricator for '{name}'; available: {sorted(WRITERS)}")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return WRITERS[name](path, np.random.default_rng(seed), name)


def fabricate_suite(root: str | Path, names: Iterable[str], seed: int = 0) -> dict[str, int]:
    """Each of ``names`` under ``root/<folder>``; the samples written per dataset."""
    return {n: fabricate(n, Path(root) / ENTRIES[n].folder, seed) for n in names}
