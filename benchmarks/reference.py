"""What the benchmark scripts share: the hand-written PGD loop they compare mmeval against, and
device synchronization around timed regions."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sync(device: torch.device | str) -> None:
    """Wait for queued GPU work, so a timer read after it covers the work (nothing on CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def hand_pgd(model, x: torch.Tensor, y: torch.Tensor, text: torch.Tensor, eps: float,
             alpha: float, steps: int) -> torch.Tensor:
    """The Linf PGD loop a careful user writes by hand (Madry et al., ICLR 2018): uniform random
    start, ``steps`` signed steps of ``alpha`` on the zero-shot cross-entropy against the
    precomputed class-text embeddings ``text``, projected onto the eps ball and [0, 1]."""
    adv = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)
    for _ in range(steps):
        adv.requires_grad_(True)
        logits = model.logit_scale * model.encode_image(adv) @ text.T
        (grad,) = torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), adv)
        with torch.no_grad():
            adv = (x + (adv + alpha * grad.sign() - x).clamp(-eps, eps)).clamp(0, 1)
    return adv.detach()
