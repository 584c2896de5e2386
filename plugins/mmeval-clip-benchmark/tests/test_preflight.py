"""A root that does not match its dataset's layout is refused at plan time (a SpecError naming
the field, the dataset and the expected layout) and nothing is ever fetched."""

import shutil

import pytest
from mmeval_clip_benchmark.datasets import offline
from mmeval_clip_benchmark.fabricate import fabricate

import mmeval
from mmeval import DataError, SpecError, plan


def _spec(name: str, **params) -> dict:
    return {"models": ["toy-vlm"], "attacks": ["clean"],
            "tasks": [{"dataset": {"name": f"clip-benchmark/{name}", "params": params}}]}


def test_missing_root_fails_at_plan_time_with_the_layout(tmp_path):
    with pytest.raises(SpecError) as err:
        plan(_spec("dtd", root=str(tmp_path / "nowhere")))
    msg = str(err.value)
    assert msg.startswith("tasks[0].dataset.params: clip-benchmark/dtd: root")
    assert "dtd/dtd/labels" in msg and "connected machine" in msg


def test_missing_split_file_is_named(tmp_path):
    fabricate("food101", tmp_path)
    (tmp_path / "food-101" / "meta" / "test.json").unlink()
    with pytest.raises(SpecError, match=r"lacks food-101/meta/test.json; expected"):
        plan(_spec("food101", root=str(tmp_path)))


def test_partial_class_folders_are_refused(tmp_path):
    """CLIP_benchmark names classes by position: a missing folder would shift every label."""
    fabricate("eurosat", tmp_path)
    shutil.rmtree(tmp_path / "eurosat" / "2750" / "Class3")
    with pytest.raises(SpecError, match="holds 9 class folders, not 10"):
        plan(_spec("eurosat", root=str(tmp_path)))


def test_incomplete_imagenetv2_is_refused_before_clip_benchmark_would_fetch_it(tmp_path):
    fabricate("imagenetv2", tmp_path)
    next((tmp_path / "ImageNetV2-matched-frequency" / "7").iterdir()).unlink()
    with pytest.raises(SpecError, match="holds 9999 of its 10000 images"):
        plan(_spec("imagenetv2", root=str(tmp_path)))


def test_unknown_split_and_missing_packages_are_spec_errors(tmp_path):
    fabricate("dtd", tmp_path)
    with pytest.raises(SpecError, match=r"no split 'validation'; choose from \['test', 'train'"):
        plan(_spec("dtd", root=str(tmp_path), split="validation"))
    with pytest.raises(SpecError, match="needs tensorflow_datasets, task_adaptation"):
        plan(_spec("vtab/svhn", root=str(tmp_path)))


def test_checksums_are_verified_unless_told_not_to(tmp_path):
    fabricate("cifar10", tmp_path)
    with pytest.raises(DataError, match="pass verify_checksums=false for a re-packed copy"):
        mmeval.create("dataset", "clip-benchmark/cifar10", root=str(tmp_path))
    ds = mmeval.create("dataset", "clip-benchmark/cifar10", root=str(tmp_path),
                       verify_checksums=False)
    assert len(ds) == 20


def test_clip_benchmark_fetches_are_refused():
    from clip_benchmark.datasets import builder, imagenetv2

    with offline("clip-benchmark/x"), pytest.raises(DataError, match="tried to fetch"):
        builder.call("wget https://example.org/archive.tar", shell=True)
    with offline("clip-benchmark/x"), pytest.raises(DataError, match="tried to fetch"):
        imagenetv2.requests.get("https://example.org/archive.tar.gz")
    assert builder.call.__module__ == "subprocess"
