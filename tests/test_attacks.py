import itertools

import pytest
import torch

from mmeval import (
    PGD,
    AttackOutput,
    Batch,
    BatchRandom,
    DataError,
    PGDParams,
    ThreatModel,
    ThreatModelViolation,
)
from mmeval.attacks.base import Attack
from mmeval.attacks.clean import Clean
from mmeval.seeding import sample_seed

EPS = [0, 1, 2, 4, 8]


def rng_for(batch, cell="cell"):
    return BatchRandom([sample_seed(0, cell, s) for s in batch.sample_ids])


def accuracy(model, objective, images, batch):
    return objective.evaluate(model, images, batch).correct.float().mean().item()


@pytest.mark.parametrize("norm,eps", [("linf", 1 / 255), ("linf", 8 / 255), ("l2", 0.1),
                                      ("l2", 1.0)])
def test_pgd_stays_in_eps_ball_and_bounds(toy_model, toy_batch, objective, norm, eps):
    out = PGD(PGDParams(eps=eps, norm=norm, steps=10))(toy_model, toy_batch, objective,
                                                       rng_for(toy_batch))
    delta = (out.images - toy_batch.images).flatten(1)
    size = delta.abs().amax(dim=1) if norm == "linf" else delta.norm(dim=1)
    assert size.max() <= eps + 1e-6
    assert out.images.min() >= 0 and out.images.max() <= 1
    assert size.max() > 0.5 * eps  # it actually used its budget


def test_eps_zero_returns_input_exactly_and_keeps_accuracy(toy_model, toy_batch, objective):
    out = PGD(PGDParams(eps=0.0, steps=10))(toy_model, toy_batch, objective, rng_for(toy_batch))
    assert torch.equal(out.images, toy_batch.images)
    clean = accuracy(toy_model, objective, toy_batch.images, toy_batch)
    assert accuracy(toy_model, objective, out.images, toy_batch) == clean


def test_accuracy_non_increasing_over_eps(toy_model, toy_batch, objective):
    accs = []
    for k in EPS:
        out = PGD(PGDParams(eps=k / 255, steps=20))(toy_model, toy_batch, objective,
                                                   rng_for(toy_batch))
        accs.append(accuracy(toy_model, objective, out.images, toy_batch))
    assert all(b <= a for a, b in itertools.pairwise(accs)), accs
    assert accs[0] >= 0.9 and accs[-1] <= 0.2, accs  # PGD really fools the toy model


def test_attack_touches_no_parameter_and_restores_mode(toy_model, toy_batch, objective):
    toy_model.train()
    before = {n: p.detach().clone() for n, p in toy_model.named_parameters()}
    toy_model.word_embedding.weight.requires_grad_(False)
    PGD(PGDParams(eps=4 / 255))(toy_model, toy_batch, objective, rng_for(toy_batch))
    assert toy_model.training
    for n, p in toy_model.named_parameters():
        assert p.grad is None, n
        assert torch.equal(p, before[n]), n
    assert not toy_model.word_embedding.weight.requires_grad
    assert toy_model.image_tower[1].weight.requires_grad


def test_attack_does_not_mutate_batch(toy_model, toy_batch, objective):
    images = toy_batch.images.clone()
    PGD(PGDParams(eps=8 / 255))(toy_model, toy_batch, objective, rng_for(toy_batch))
    assert torch.equal(toy_batch.images, images)


def test_pgd_is_deterministic_and_independent_of_batch_composition(toy_model, toy_batch,
                                                                   objective):
    attack = PGD(PGDParams(eps=4 / 255, steps=5))
    full = attack(toy_model, toy_batch, objective, rng_for(toy_batch)).images
    again = attack(toy_model, toy_batch, objective, rng_for(toy_batch)).images
    assert torch.equal(full, again)
    part = Batch(toy_batch.sample_ids[3:11], toy_batch.images[3:11], toy_batch.labels[3:11],
                 toy_batch.texts[3:11])
    sub = attack(toy_model, part, objective, rng_for(part)).images
    assert torch.allclose(sub, full[3:11], atol=1e-6)


def test_clean_attack_is_identity(toy_model, toy_batch, objective):
    out = Clean()(toy_model, toy_batch, objective, rng_for(toy_batch))
    assert torch.equal(out.images, toy_batch.images)


class Cheater(Attack):
    """Claims eps = 1/255 but moves pixels by 0.1."""

    def __init__(self, shift: float, eps: float = 1 / 255) -> None:
        super().__init__()
        self.shift, self.eps = shift, eps

    @property
    def threat_model(self):
        return ThreatModel("image", "linf", self.eps)

    def run(self, model, batch, objective, rng):
        return AttackOutput(images=(batch.images + self.shift))


def test_violation_of_eps_ball_raises(toy_model, toy_batch, objective):
    half = Batch(toy_batch.sample_ids, toy_batch.images * 0.5 + 0.25, toy_batch.labels)
    with pytest.raises(ThreatModelViolation, match="exceeds eps"):
        Cheater(0.1)(toy_model, half, objective, rng_for(half))


def test_violation_of_bounds_raises(toy_model, toy_batch, objective):
    with pytest.raises(ThreatModelViolation, match=r"leave \[0, 1\]"):
        Cheater(2.0, eps=3.0)(toy_model, toy_batch, objective, rng_for(toy_batch))


def test_round_off_is_projected_not_raised(toy_model, toy_batch, objective):
    half = Batch(toy_batch.sample_ids, toy_batch.images * 0.5 + 0.25, toy_batch.labels)
    out = Cheater(1 / 255 + 5e-6)(toy_model, half, objective, rng_for(half))
    assert (out.images - half.images).abs().max() <= 1 / 255 + 1e-7  # float32 round-off only


def test_inputs_outside_unit_range_are_rejected(toy_model, toy_batch, objective):
    bad = Batch(toy_batch.sample_ids, toy_batch.images * 2 - 0.5, toy_batch.labels)
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        PGD(PGDParams())(toy_model, bad, objective, rng_for(bad))


def test_linf_eps_above_one_is_a_params_error():
    with pytest.raises(ValueError, match="4/255"):
        PGDParams(eps=4.0)
    assert PGDParams(eps=4.0, norm="l2").eps == 4.0
