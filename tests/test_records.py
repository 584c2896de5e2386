"""make_records: per-sample records from outcomes alone, no model."""

import torch

from mmeval import NON_FINITE, AttackOutput, Batch, Outcome
from mmeval.records import Scored, make_records


def _batch() -> Batch:
    return Batch(("a", "b", "c"), torch.full((3, 3, 4, 4), 0.5), torch.tensor([0, 1, 2]),
                 (("x y",), ("z",), ("w",)))


def _outcome(pred, correct, finite=None, **info) -> Outcome:
    return Outcome(torch.tensor(pred), torch.tensor(correct),
                   finite=None if finite is None else torch.tensor(finite), info=info)


def test_verdicts_norms_and_attack_info():
    batch = _batch()
    adv = batch.images.clone()
    adv[1] += 0.02
    adv[2, 0, 0, 0] += 0.1
    out = AttackOutput(images=adv, info={"queries": [1, 2, 3]})
    records = make_records("c-1", batch, Scored(_outcome([0, 1, 2], [True, True, True]),
                                                _outcome([0, 0, 2], [True, False, True]), adv, out),
                           precision="fp32", clean_prompts=(), transfer=None)
    assert [r.sample_id for r in records] == ["a", "b", "c"]
    assert [(r.clean_correct, r.adv_correct) for r in records] == [(True, True), (True, False),
                                                                  (True, True)]
    assert records[0].linf == 0 and abs(records[1].linf - 0.02) < 1e-6
    assert abs(records[2].l2 - 0.1) < 1e-6 and records[2].linf > 0.099
    assert [r.extra["queries"] for r in records] == [1, 2, 3]
    assert all("source" not in r.extra for r in records)


def test_non_finite_samples_are_flagged_and_never_correct():
    batch = _batch()
    records = make_records("c", batch, Scored(
        _outcome([0, 1, 2], [True, True, True], finite=[True, False, True]),
        _outcome([0, 1, 2], [True, True, True], finite=[True, True, False]), batch.images,
        AttackOutput(images=batch.images)), precision="fp32", clean_prompts=(), transfer=None)
    assert [r.extra.get(NON_FINITE) for r in records] == [None, "clean", "adv"]
    assert [r.adv_correct for r in records] == [True, False, False]


def test_low_precision_verdict_kept_where_it_differs_and_transfer_tags():
    batch = _batch()
    records = make_records("c", batch, Scored(
        _outcome([0, 1, 2], [True, True, True]), _outcome([0, 1, 2], [True, True, False]),
        batch.images, AttackOutput(images=batch.images), low=[True, False, False]),
        precision="bf16", clean_prompts=(), transfer=("src", "tgt"))
    assert [r.extra.get("adv_correct_bf16") for r in records] == [None, False, None]
    assert all(r.extra["source"] == "src" and r.extra["target"] == "tgt" for r in records)


def test_changed_prompts_and_captions_are_recorded():
    batch = _batch()
    clean_prompts = ("a cat", "a dog", "a cow")
    out = AttackOutput(images=batch.images, texts=(("x q",), ("z",), ("w",)),
                       prompts=(clean_prompts, ("a cat", "a hog", "a cow"), clean_prompts))
    records = make_records("c", batch, Scored(
        _outcome([0, 1, 2], [True, True, True]), _outcome([0, 1, 2], [True, True, True]),
        batch.images, out), precision="fp32", clean_prompts=clean_prompts, transfer=None)
    assert [r.extra["adv_prompts"] for r in records] == [{}, {"1": "a hog"}, {}]
    assert records[0].extra["adv_texts"] == ["x q"]
