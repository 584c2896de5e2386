import socket

import pytest
import torch

from mmeval.testing.network import no_network
from mmeval.testing.toy import ToyVLM, ToyVLMParams


def test_toy_model_zero_shot_accuracy_at_least_90(toy_model, toy_batch, objective):
    outcome = objective.evaluate(toy_model, toy_batch.images, toy_batch)
    assert outcome.correct.float().mean() >= 0.9


def test_toy_embeddings_are_normalized_and_deterministic(toy_model, toy_batch):
    a = toy_model.encode_image(toy_batch.images[:8])
    b = ToyVLM().eval().encode_image(toy_batch.images[:8])
    assert torch.allclose(a.norm(dim=-1), torch.ones(8), atol=1e-5)
    assert torch.equal(a, b)
    t = toy_model.encode_text(["a photo of a circle", "a star"])
    assert t.shape == (2, toy_model.params.embed_dim)
    assert torch.allclose(t.norm(dim=-1), torch.ones(2), atol=1e-5)


def test_toy_model_resizes_inside_forward(toy_model, toy_batch):
    big = torch.nn.functional.interpolate(toy_batch.images[:4], size=32, mode="nearest")
    assert toy_model.encode_image(big).shape == (4, 32)


def test_different_seeds_give_different_worlds(toy_batch):
    a = ToyVLM(ToyVLMParams(seed=0)).eval().encode_image(toy_batch.images[:4])
    b = ToyVLM(ToyVLMParams(seed=1)).eval().encode_image(toy_batch.images[:4])
    assert not torch.allclose(a, b)



def test_no_network_refuses_remote_connections_only():
    original = socket.socket.connect
    with no_network():
        with socket.socket() as s, pytest.raises(OSError, match="network blocked"):
            s.connect(("192.0.2.1", 80))
        with socket.socket() as s, pytest.raises(ConnectionRefusedError):  # local: really tried
            s.connect(("127.0.0.1", 1))
    assert socket.socket.connect is original
