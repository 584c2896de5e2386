"""The compiled attack step (``run.compile``): forward, loss, input gradient, update and projection
as one graph, giving the eager step's adversarial examples and per-sample verdicts; an eps sweep
reuses the graph."""

from __future__ import annotations

import pytest
import torch
from torch._dynamo.utils import counters

from mmeval import PGD, Batch, BatchRandom, PGDParams
from mmeval.compilation import compiled_steps
from mmeval.plugins import PluginHost
from mmeval.seeding import sample_seed


@pytest.fixture(autouse=True)
def fresh_dynamo():
    """Graph counts start from zero: no graph another test compiled is reused."""
    torch._dynamo.reset()
    counters.clear()
    yield
    torch._dynamo.reset()


def attack(model, objective, batch: Batch, params: dict, mode: str | None) -> torch.Tensor:
    rng = BatchRandom([sample_seed(0, "cell", s) for s in batch.sample_ids])
    with compiled_steps(mode):
        return PGD(PGDParams(**params))(model, batch, objective, rng).images


def assert_same_attack(model, objective, batch: Batch, params: dict) -> None:
    """The compiled step's adversarial images equal the eager ones to float tolerance, and every
    sample gets the same verdict."""
    eager = attack(model, objective, batch, params, None)
    compiled = attack(model, objective, batch, params, "default")
    assert not torch.equal(eager, batch.images)  # the attack moved the images
    torch.testing.assert_close(compiled, eager, rtol=0, atol=1e-5)
    with torch.no_grad():
        verdicts = [objective.evaluate(model, x, batch).correct for x in (eager, compiled)]
    assert torch.equal(*verdicts)


@pytest.mark.parametrize("params", [
    {"eps": 8 / 255, "steps": 5},
    {"eps": 0.5, "norm": "l2", "steps": 5, "momentum": 0.5},
    {"eps": 8 / 255, "steps": 5, "random_start": False, "step_size": 1 / 255}])
def test_the_compiled_step_gives_the_eager_examples_and_verdicts(toy_model, toy_batch, objective,
                                                                 params):
    assert_same_attack(toy_model, objective, toy_batch, params)
    assert counters["stats"]["unique_graphs"] == 1, "the step is one graph"
    assert not counters["graph_break"], dict(counters["graph_break"])


def test_an_eps_sweep_reuses_one_graph(toy_model, toy_batch, objective):
    for eps in (1 / 255, 4 / 255, 8 / 255):
        assert_same_attack(toy_model, objective, toy_batch, {"eps": eps, "steps": 3})
    assert counters["stats"]["unique_graphs"] == 1


def test_the_compiled_step_on_an_open_clip_model():
    """The zoo CLIP (open_clip, attention-pooled ResNet; resize + normalize inside its forward)."""
    host = PluginHost()
    model = host.create("model", "zoo/tiny-clip-shapes", {}).eval()
    data = host.create("dataset", "shapes", {"n": 12})
    objective = host.create("objective", "zero-shot", {})
    objective.prepare(model, data)
    batch = Batch.collate([data[i] for i in range(len(data))])
    assert_same_attack(model, objective, batch, {"eps": 4 / 255, "steps": 3})
    assert not counters["graph_break"], dict(counters["graph_break"])
