"""Dataset adapters: shapes, CIFAR pickles, image folders, Karpathy retrieval JSON."""

import json
import pickle
from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

from mmeval import DataError
from mmeval.data.cifar import Cifar10, Cifar100, CifarParams
from mmeval.data.image_folder import ImageFolder, ImageFolderParams
from mmeval.data.retrieval_json import RetrievalJson, RetrievalJsonParams, pre_caption
from mmeval.data.shapes import COLORS, POSITIONS, SHAPES, SIZES, ShapesDataset, ShapesParams


def test_shapes_is_deterministic_and_well_formed():
    a, b = ShapesDataset(ShapesParams(n=20)), ShapesDataset(ShapesParams(n=20))
    for i in (0, 7, 19):
        sa, sb = a[i], b[i]
        assert sa.sample_id == sb.sample_id and torch.equal(sa.image, sb.image)
        assert sa.image.shape == (3, 48, 48) and sa.image.min() >= 0 and sa.image.max() <= 1
        assert len(sa.texts) == 5 and sa.texts == sb.texts
    other = ShapesDataset(ShapesParams(n=20, seed=1))
    assert not torch.equal(a[0].image, other[0].image)
    assert len({a.sample_id(i) for i in range(20)} | {other.sample_id(i) for i in range(20)}) == 40


def test_shapes_class_sets_and_labels():
    for classes, n in [("shape", 10), ("color", 10), ("size", 3), ("position", 9),
                       ("shape-color", 100)]:
        ds = ShapesDataset(ShapesParams(n=30, classes=classes))
        assert len(ds.class_names) == n
        for i in range(5):
            words = ds.class_names[ds[i].label].split()
            assert all(w in ds[i].texts[0] for w in words), (classes, ds[i].texts[0])


def test_shapes_attributes_are_independent():
    """No attribute gives another away: every pair of values co-occurs about uniformly."""
    ds = ShapesDataset(ShapesParams(n=6000))
    attrs = [ds.attributes(i) for i in range(len(ds))]
    pairs = Counter((a.shape, a.color) for a in attrs)
    assert len(pairs) == len(SHAPES) * len(COLORS)
    assert max(pairs.values()) / min(pairs.values()) < 3
    for field, values in [("size", SIZES), ("position", POSITIONS)]:
        by_shape = Counter((a.shape, getattr(a, field)) for a in attrs)
        assert len(by_shape) == len(SHAPES) * len(values)


def _cifar_files(root, n=12):
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    rng = np.random.default_rng(0)
    with open(base / "test_batch", "wb") as f:
        pickle.dump({b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                     b"labels": list(range(n))}, f)
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [f"class_{i}".encode() for i in range(10)]}, f)
    return base


def test_cifar_reads_the_python_batches(tmp_path):
    # the real files are pickled with bytes keys in python 2 style; latin1 decoding gives str keys
    base = _cifar_files(tmp_path)
    for f in ("test_batch", "batches.meta"):  # rewrite with str keys as the latin1 loader sees them
        data = pickle.loads((base / f).read_bytes())
        (base / f).write_bytes(pickle.dumps({k.decode(): v for k, v in data.items()}))
    ds = Cifar10(CifarParams(root=str(tmp_path)))
    assert len(ds) == 12 and ds[3].label == 3 and ds[3].image.shape == (3, 32, 32)
    assert ds.class_names[0] in ("class_0", b"class_0")
    assert ds.sample_id(3) == "cifar10-test-00003"


def test_cifar_missing_or_malicious_files(tmp_path):
    with pytest.raises(DataError, match="expected the python version"):
        Cifar100(CifarParams(root=str(tmp_path)))
    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()

    class Evil:
        def __reduce__(self):
            return (exec, ("open('pwned','w')",))

    (base / "test_batch").write_bytes(pickle.dumps({"data": Evil()}))
    (base / "batches.meta").write_bytes(pickle.dumps({"label_names": []}))
    with pytest.raises(DataError, match="refusing"):
        Cifar10(CifarParams(root=str(tmp_path)))
    assert not (tmp_path / "pwned").exists()


def test_image_folder(tmp_path):
    for c, color in [("cat", (200, 10, 10)), ("dog", (10, 200, 10))]:
        (tmp_path / c).mkdir()
        for i in range(2):
            Image.new("RGB", (40, 30), color).save(tmp_path / c / f"{i}.png")
    (tmp_path / "cat" / "notes.txt").write_text("ignored")
    ds = ImageFolder(ImageFolderParams(root=str(tmp_path), image_size=24))
    assert ds.class_names == ("cat", "dog") and len(ds) == 4
    s = ds[2]
    assert s.label == 1 and s.sample_id == "dog/0.png" and s.image.shape == (3, 24, 24)
    assert s.image[1].mean() > 0.7
    with pytest.raises(DataError, match="root/<class>/<image>"):
        ImageFolder(ImageFolderParams(root=str(tmp_path / "missing")))


def test_retrieval_json(tmp_path):
    (tmp_path / "img").mkdir()
    Image.new("RGB", (50, 40), (0, 0, 255)).save(tmp_path / "img" / "a.jpg")
    Image.new("RGB", (50, 40), (255, 0, 0)).save(tmp_path / "img" / "b.jpg")
    ann = [{"image": "a.jpg", "caption": ["A Dog, running!", "two-dogs/play <person>"]},
           {"image": "b.jpg", "caption": "A red   thing."}]
    (tmp_path / "ann.json").write_text(json.dumps(ann))
    ds = RetrievalJson(RetrievalJsonParams(annotation=str(tmp_path / "ann.json"),
                                           image_root=str(tmp_path / "img"), image_size=32))
    assert len(ds) == 2 and ds.texts(0) == ("a dog running", "two dogs play person")
    assert ds[1].texts == ("a red thing",) and ds[1].image.shape == (3, 32, 32)
    assert pre_caption(" ".join(["w"] * 40)).count("w") == 30
    (tmp_path / "bad.json").write_bytes(b"\xff\xfe not json")
    with pytest.raises(DataError, match="not valid UTF-8 JSON"):
        RetrievalJson(RetrievalJsonParams(annotation=str(tmp_path / "bad.json"), image_root="."))
    (tmp_path / "dup.json").write_text(json.dumps(ann + ann[:1]))
    with pytest.raises(DataError, match="more than once"):
        RetrievalJson(RetrievalJsonParams(annotation=str(tmp_path / "dup.json"), image_root="."))
