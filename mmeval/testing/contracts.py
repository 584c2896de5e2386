"""Reusable contract checks that any VLModel must pass (used by mmeval's adapters and by plugins)."""

from __future__ import annotations

import torch

from ..protocols import VLModel


def check_model_contract(model: VLModel, *, batch: int = 3, atol: float = 1e-4) -> None:
    """Assert the VLModel contract: [0, 1] images at ``input_spec.image_size`` in, L2-normalized
    ``[B, D]`` embeddings out, gradients w.r.t. the input, no input mutation, batch-size
    independence, deterministic in eval mode, texts -> ``[T, D]`` unit vectors, logit_scale > 0."""
    model.eval()
    h, w = model.input_spec.image_size
    assert model.input_spec.bounds == (0.0, 1.0), "inputs must be raw [0, 1] pixels"
    assert {"image", "text"} <= set(model.capabilities), model.capabilities
    g = torch.Generator().manual_seed(0)
    device = next(iter(model.parameters())).device
    images = torch.rand(batch, 3, h, w, generator=g).to(device)
    before = images.clone()
    x = images.clone().requires_grad_(True)
    emb = model.encode_image(x)
    assert emb.dim() == 2 and emb.shape[0] == batch, tuple(emb.shape)
    assert torch.allclose(emb.norm(dim=-1), torch.ones(batch, device=device), atol=1e-3)
    (grad,) = torch.autograd.grad(emb[:, 0].sum(), x)
    assert grad.abs().sum() > 0, "no gradient reaches the input pixels"
    assert torch.equal(images, before), "encode_image mutated its input"
    with torch.no_grad():
        again = model.encode_image(images)
        single = torch.cat([model.encode_image(images[i:i + 1]) for i in range(batch)])
    assert torch.allclose(emb.detach(), again, atol=atol), "not deterministic in eval mode"
    assert torch.allclose(single, again, atol=atol), "embedding depends on the batch"
    texts = ["a photo of a red circle", "a blue square", "x"]
    with torch.no_grad():
        t = model.encode_text(texts)
    assert t.shape == (len(texts), emb.shape[1]), tuple(t.shape)
    assert torch.allclose(t.norm(dim=-1), torch.ones(len(texts), device=t.device), atol=1e-3)
    assert model.logit_scale > 0
