"""mmeval's clean numbers equal CLIP_benchmark's for the same open_clip model, dataset, templates
and preprocessing: zero-shot accuracy (and every sample's prediction) and retrieval R@K. The
model is the offline zoo's tiny CLIP; what is tested is agreement, not accuracy."""

import pytest
import torch
from clip_benchmark.datasets.builder import build_dataset, get_dataset_collate_fn
from clip_benchmark.metrics import zeroshot_classification, zeroshot_retrieval
from mmeval_clip_benchmark.datasets import checksums
from mmeval_clip_benchmark.fabricate import fabricate
from open_clip.transform import PreprocessCfg, image_transform_v2
from torch.utils.data import DataLoader

import mmeval
from mmeval import Store, evaluate, plan

MODEL = "zoo/tiny-clip-shapes"


@pytest.fixture(scope="module")
def reference():
    """CLIP_benchmark's view of the zoo model: the open_clip model, its tokenizer, its transform."""
    model = mmeval.load_zoo("tiny-clip-shapes").eval()
    clip = model.model
    preprocess = image_transform_v2(PreprocessCfg(**clip.visual.preprocess_cfg), is_train=False)
    return clip, model.tokenizer, preprocess, model.input_specs["image"].image_size[0]


def _loader(name, root, preprocess, task):
    with checksums(False):
        ds = build_dataset(name, root=str(root), transform=preprocess, split="test",
                           download=False, task=task)
    return ds, DataLoader(ds, batch_size=7, collate_fn=get_dataset_collate_fn(name))


def _run(tmp_path, name, root, size, objective):
    spec = {"name": f"agree-{name}", "models": [MODEL], "attacks": ["clean"],
            "tasks": [{"dataset": {"name": f"clip-benchmark/{name}",
                                   "params": {"root": str(root), "image_size": size,
                                              "verify_checksums": False}},
                       "objective": objective}],
            "run": {"batch_size": 16, "progress": False}, "output_dir": str(tmp_path / "run")}
    result = evaluate(plan(spec))
    (cell,) = result.cells
    return result, cell


@pytest.mark.parametrize("name", ["cifar10", "caltech101"])
def test_zero_shot_accuracy_and_predictions_equal_clip_benchmark(tmp_path, reference, name):
    clip, tokenizer, preprocess, size = reference
    fabricate(name, tmp_path / "data")
    ds, loader = _loader(name, tmp_path / "data", preprocess, "zeroshot_classification")
    with torch.no_grad():
        classifier = zeroshot_classification.zero_shot_classifier(
            clip, tokenizer, ds.classes, ds.templates, "cpu", amp=False)
        logits, target = zeroshot_classification.run_classification(clip, classifier, loader,
                                                                    "cpu", amp=False)
    # CLIP_benchmark's top-1 as its evaluate() computes it (its accuracy() helper calls float()
    # on a one-element array, which NumPy 2 refuses, so evaluate() itself cannot run here)
    top1 = logits.topk(1, 1, True, True)[1].t()
    expected = {"acc1": top1.eq(target.view(1, -1)).sum().item() / len(target)}
    result, cell = _run(tmp_path, name, tmp_path / "data",
                        size, {"name": "zero-shot", "params": {"templates": "dataset"}})
    assert cell["metrics"]["clean-accuracy"]["value"] == pytest.approx(expected["acc1"], abs=1e-6)
    dataset = mmeval.create("dataset", f"clip-benchmark/{name}", root=str(tmp_path / "data"),
                            image_size=size, verify_checksums=False)
    with Store(result.run_dir, create=False) as store:
        preds = {r.sample_id: r.clean_pred for r in store.records(cell["id"])}
    mine = [preds[dataset.sample_id(i)] for i in range(len(dataset))]
    assert mine == logits.argmax(dim=1).tolist()
    assert len(set(mine)) > 1  # the model tells the images apart: the comparison has teeth


@pytest.mark.parametrize("name", ["flickr30k", "mscoco_captions"])
def test_retrieval_recall_equals_clip_benchmark(tmp_path, reference, name):
    clip, tokenizer, preprocess, size = reference
    fabricate(name, tmp_path / "data")
    _, loader = _loader(name, tmp_path / "data", preprocess, "zeroshot_retrieval")
    with torch.no_grad():
        expected = zeroshot_retrieval.evaluate(clip, loader, tokenizer, "cpu", amp=False,
                                               recall_k_list=[1, 5])
    _, cell = _run(tmp_path, name, tmp_path / "data", size, "retrieval")
    for k in (1, 5):
        assert cell["metrics"][f"tr@{k}"]["value"] == pytest.approx(
            expected[f"text_retrieval_recall@{k}"], abs=1e-6)
        assert cell["metrics"][f"ir@{k}"]["value"] == pytest.approx(
            expected[f"image_retrieval_recall@{k}"], abs=1e-6)
    assert 0 < expected["image_retrieval_recall@1"] < 1  # neither trivial nor hopeless

