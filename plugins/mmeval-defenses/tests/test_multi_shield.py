"""Multi-Shield on the tiny CLIP with the zoo's shapes classifier."""

from __future__ import annotations

import pytest
import torch

import mmeval
from mmeval import Batch, Store, create, create_model

CLASSIFIER = "zoo/tiny-classifier-shapes"
TASK = {"dataset": {"name": "shapes", "params": {"n": 100}}, "objective": "zero-shot"}


@pytest.fixture(scope="module")
def shield():
    clip = create_model("zoo/tiny-clip-shapes").eval()
    defense = mmeval.get_host().registry.get("defense", "defenses/multi-shield").build({})
    return defense.apply(clip).eval()


def test_the_reject_logit_follows_the_rule(shield):
    z = torch.tensor([[3.0, 1.0, 0.0], [3.0, 1.0, 0.0]])
    logits = 100 * torch.tensor([[0.9, 0.2, 0.1], [0.2, 0.9, 0.1]])  # CLIP agrees, then disagrees
    shield.classifier.classify = lambda images: z
    try:
        out = shield.zero_shot_head(torch.zeros(2, 3, 48, 48), logits)
    finally:
        del shield.classifier.classify
    scale = shield.clip.logit_scale
    gap = (logits[1].max() - logits[1, 0]) / scale
    torch.testing.assert_close(out[:, 3], torch.stack([z[0].max() - 1e-3, z[1].max() + gap - 1e-3]))
    assert out.argmax(1).tolist() == [0, 3]


def test_never_rejects_where_classifier_and_clip_agree(shield):
    data = mmeval.get_host().registry.get("dataset", "shapes").build({"n": 200})
    batch = Batch.collate([data[i] for i in range(len(data))])
    objective = create("objective", "zero-shot")
    objective.prepare(shield, data)
    with torch.no_grad():
        clip = objective.text_features @ shield.clip.encode_image(batch.images).T
        agree = shield.classifier.classify(batch.images).argmax(1) == clip.argmax(0)
        outcome = objective.evaluate(shield, batch.images, batch)
    rejected = torch.tensor(outcome.info["rejected"])
    assert agree.sum() > 150 and not rejected[agree].any()
    assert rejected[~agree].all()  # disagreements here exceed tau


def test_on_the_same_adversarial_points_rejection_only_helps(tmp_path):
    """Non-adaptive: PGD crafted on the classifier alone, scored on the classifier and on
    Multi-Shield (same points: transfer seeds depend on what crafts them); adaptive PGD too."""
    pgd = {"name": "mmeval/pgd", "params": {"eps": 4 / 255, "steps": 10}}
    result = mmeval.evaluate({
        "models": [{"name": CLASSIFIER},
                   {"name": "zoo/tiny-clip-shapes", "include_undefended": False,
                    "defenses": ["defenses/multi-shield"]}],
        "tasks": [TASK],
        "attacks": [{**pgd, "source": {"name": CLASSIFIER}, "label": "pgd"},
                    {"name": "multi-shield/adaptive-pgd", "params": {"eps": 4 / 255, "steps": 10},
                     "label": "adaptive"}],
        "metrics": ["clean-accuracy", "robust-accuracy", "robust-accuracy-with-rejection",
                    "rejection-rate", {"name": "rejection-rate", "params": {"on": "clean"},
                                       "label": "clean rejection-rate"}],
        "run": {"progress": False}, "output_dir": str(tmp_path / "ms")})
    assert all(c["status"] == "done" for c in result.cells)
    m = {(c["defense"], c["attack"]): c["metrics"] for c in result.cells}
    alone, shielded = m[("none", "pgd")], m[("defenses/multi-shield", "pgd")]
    assert alone["robust-accuracy"]["value"] < 0.5  # the attack works on the classifier
    assert (shielded["robust-accuracy-with-rejection"]["value"]
            >= alone["robust-accuracy"]["value"])
    assert shielded["rejection-rate"]["value"] > 0.0
    assert alone["rejection-rate"]["value"] == 0.0
    # a rejection on clean data is an error: clean accuracy cannot exceed the classifier's
    assert shielded["clean-accuracy"]["value"] <= alone["clean-accuracy"]["value"]
    # per sample: where the classifier survives, Multi-Shield answers the same or abstains

    with Store(result.run_dir, create=False) as store:
        ids = {c["attack"] + c["defense"]: c["id"] for c in result.cells}
        a = {r.sample_id: r for r in store.records(ids["pgdnone"])}
        s = {r.sample_id: r for r in store.records(ids["pgddefenses/multi-shield"])}
    assert a.keys() == s.keys()
    for sid, rec in a.items():
        assert rec.linf == pytest.approx(s[sid].linf)  # the same points
        if rec.adv_correct:
            assert s[sid].adv_correct or s[sid].extra["adv_rejected"]
    adaptive = m[("defenses/multi-shield", "adaptive")]
    assert 0.0 <= adaptive["robust-accuracy-with-rejection"]["value"] <= 1.0
