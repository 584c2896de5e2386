"""Core pieces the defenses build on: the contrastive loss, momentum PGD, checkpoints of the
trainable adapters, TrainSpec validation."""

from __future__ import annotations

import pickle

import pytest
import torch
import torch.nn.functional as F

from mmeval import (
    Batch,
    ModelLoadError,
    SpecError,
    TrainSpec,
    contrastive_loss,
    create_model,
    load_train_spec,
    pgd_loop,
    random_start,
    text_owners,
)
from mmeval.checkpoints import load_weights
from mmeval.objectives.contrastive import image_to_text_loss
from mmeval.seeding import BatchRandom
from mmeval.testing.toy import ToyVLM


def test_contrastive_loss_one_text_per_image_is_symmetric_cross_entropy():
    g = torch.Generator().manual_seed(0)
    img = F.normalize(torch.randn(6, 8, generator=g), dim=-1)
    txt = F.normalize(torch.randn(6, 8, generator=g), dim=-1)
    logits = 10 * img @ txt.T
    target = torch.arange(6)
    expected = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
    torch.testing.assert_close(contrastive_loss(img, txt, 10.0), expected)


def test_one_to_many_pairs_count_every_own_caption_as_positive():
    img = F.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), dim=-1)
    txt = F.normalize(torch.tensor([[1.0, 0.1], [1.0, -0.1], [0.1, 1.0]]), dim=-1)
    batch = Batch(("a", "b"), torch.zeros(2, 3, 4, 4), texts=(("x", "y"), ("z",)))
    owner = text_owners(batch)
    assert owner.tolist() == [0, 0, 1]
    logits = 10 * img @ txt.T
    p = logits.softmax(dim=1)
    per_image = image_to_text_loss(logits, owner)
    torch.testing.assert_close(per_image, -torch.stack([(p[0, 0] + p[0, 1]).log(), p[1, 2].log()]))
    assert per_image[0] < F.cross_entropy(logits[:1], torch.tensor([0]))  # not a negative
    expected = (per_image.mean() + F.cross_entropy(logits.T, owner)) / 2
    torch.testing.assert_close(contrastive_loss(img, txt, 10.0, owner), expected)


def test_momentum_pgd_stays_in_the_ball_and_is_a_no_op_under_linf():
    """FARE's momentum normalizes the velocity each step; under Linf sign(0.9 v + sign(g)) is
    sign(g), so it only changes L2 steps."""
    model = ToyVLM().eval()
    x = torch.rand(4, 3, 16, 16)
    target = model.encode_image(x).detach()

    def loss(a):
        return (model.encode_image(a) - target).pow(2).sum(-1)

    for norm, eps, step in (("linf", 4 / 255, 1 / 255), ("l2", 0.5, 0.1)):
        start = random_start(x, BatchRandom(range(4)), norm, eps)
        plain = pgd_loop(x, start, loss, norm, eps, 5, step)
        heavy = pgd_loop(x, start, loss, norm, eps, 5, step, momentum=0.9)
        for adv in (plain, heavy):
            size = (adv - x).flatten(1).abs().amax(1) if norm == "linf" else (adv - x).flatten(1).norm(dim=1)
            assert (size <= eps + 1e-5).all() and adv.min() >= 0 and adv.max() <= 1
            assert loss(adv).mean() > loss(x).mean()
        assert torch.equal(plain, heavy) == (norm == "linf")


def test_toy_checkpoint_round_trip_and_pickles_refused(tmp_path):
    model = ToyVLM()
    with torch.no_grad():
        model.image_tower[1].weight.add_(1.0)
    ref = model.save_checkpoint(tmp_path)
    loaded = create_model(ref["name"], **ref["params"])
    assert torch.equal(loaded.image_tower[1].weight, model.image_tower[1].weight)

    class Boom:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"w": Boom()}))
    with pytest.raises(ModelLoadError, match="weights-only"):
        load_weights(evil)


def test_train_spec_errors_name_the_field(tmp_path):
    good = {"model": "mmeval/toy-vlm", "dataset": "toy", "defense": "x", "epochs": 1,
            "optimizer": {"lr": 0.1}}
    assert TrainSpec(**good).optimizer.name == "adamw"
    path = tmp_path / "t.json"
    path.write_text('{"model": "mmeval/toy-vlm", "dataset": "toy", "defense": "x", "epochs": 0,'
                    ' "optimizer": {"lr": 0.1}}')
    with pytest.raises(SpecError, match="epochs"):
        load_train_spec(path)
    path.write_text('{"model": "mmeval/toy-vlm", "dataset": "toy", "defense": "x", "epochs": 1,'
                    ' "optimizer": {"lr": 0.1, "nesterov": true}}')
    with pytest.raises(SpecError, match="optimizer.nesterov"):
        load_train_spec(path)
