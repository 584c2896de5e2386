"""AdvCLIP on the tiny CLIP: patch geometry and invariants, universality, determinism, metrics."""

import math

import pytest
import torch
from mmeval_multimodal.advclip import AdvCLIP, AdvCLIPParams, patch_mask, topology

from mmeval import Batch, BatchRandom, create, create_model, evaluate

QUICK = {"train_dataset": {"name": "shapes", "params": {"n": 48, "seed": 7}}, "epochs": 2}


def test_mask_geometry_matches_the_reference_at_224():
    mask = patch_mask(224, 224, 0.03)
    assert mask.sum() == 38 * 38  # 1444 px, ~2.9% of the image
    rows, cols = mask[0, 0].nonzero().T
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (172, 209, 172, 209)
    assert patch_mask(48, 48, 0.03).sum() == math.isqrt(int(0.03 * 48 * 48)) ** 2


def test_topology_is_zero_for_the_same_structure_and_positive_otherwise():
    a = torch.randn(8, 16)
    assert topology(a, a).abs() < 1e-4
    assert topology(a, torch.randn(8, 16)) > 0.01


@pytest.fixture(scope="module")
def patched():
    model = create_model("zoo/tiny-clip-shapes").eval()
    data = create("dataset", "shapes", n=12, seed=3)
    objective = create("objective", "zero-shot")
    objective.prepare(model, data)
    batch = Batch.collate([data[i] for i in range(len(data))])
    attack = AdvCLIP(AdvCLIPParams(**QUICK))
    out = attack(model, batch, objective, BatchRandom(range(len(batch))))
    return model, batch, objective, out


def test_patch_replaces_only_its_square_and_is_universal(patched):
    _, batch, _, out = patched
    mask = patch_mask(48, 48, 0.03).bool().expand_as(batch.images)
    assert torch.equal(out.images[~mask], batch.images[~mask])  # bit-identical outside
    region = out.images[mask].view(len(batch), -1)
    assert torch.equal(region, region[:1].expand_as(region))  # one patch for every image
    assert out.images.min() >= 0 and out.images.max() <= 1


def test_training_is_deterministic(patched):
    model, batch, objective, out = patched
    again = AdvCLIP(AdvCLIPParams(**QUICK))(model, batch, objective, BatchRandom(range(len(batch))))
    assert torch.equal(out.images, again.images)


def test_patch_equal_to_the_pixels_changes_nothing(patched):
    model, batch, objective, _ = patched
    attack = AdvCLIP(AdvCLIPParams(**QUICK))
    attack._patch = (model, (48, 48), batch.images[:1].clone())
    same = Batch(batch.sample_ids[:1], batch.images[:1], batch.labels[:1], batch.texts[:1])
    out = attack(model, same, objective, BatchRandom([0]))
    assert torch.equal(out.images, same.images)


def test_end_to_end_fooling_rate_and_accuracy_drop(tmp_path):
    spec = {"name": "advclip", "models": ["zoo/tiny-clip-shapes"],
            "tasks": [{"dataset": {"name": "shapes", "params": {"n": 24, "classes": "shape"}},
                       "label": "s10"},
                      {"dataset": {"name": "shapes", "params": {"n": 12}}, "objective": "retrieval",
                       "label": "ret"}],
            "attacks": ["clean", {"name": "multimodal/advclip", "params": QUICK, "label": "advclip"}],
            "metrics": ["clean-accuracy", "robust-accuracy", "fooling-rate", "accuracy-drop", "tr@1"],
            "run": {"batch_size": 12, "progress": False}}
    result = evaluate(spec, out=tmp_path)
    assert {c["status"] for c in result.cells} == {"done"}, [c["error"] for c in result.cells]
    assert result.metric("fooling-rate", task="s10", attack="clean").value == 0
    fooled = result.metric("fooling-rate", task="s10", attack="advclip")
    drop = result.metric("accuracy-drop", task="s10", attack="advclip")
    assert 0 <= fooled.value <= 1 and fooled.low <= fooled.value <= fooled.high
    clean = result.metric("clean-accuracy", task="s10", attack="advclip").value
    robust = result.metric("robust-accuracy", task="s10", attack="advclip").value
    assert drop.value == pytest.approx(clean - robust)
    assert 0 <= result.metric("fooling-rate", task="ret", attack="advclip").value <= 1
