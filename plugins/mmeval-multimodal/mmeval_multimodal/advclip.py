"""AdvCLIP (Zhou, Hu, Li, Zhang, Zhou, Chen, Jin, "AdvCLIP: Downstream-agnostic Adversarial Examples
in Multimodal Contrastive Learning", ACM MM 2023): one universal adversarial patch for every image.

A DCGAN-style generator maps a fixed noise vector to the patch; it is trained against the frozen
victim on a training set of image-text pairs with
``L_G = BCE(D(x'), 1) + alpha * L_adv + MSE(x', x) + delta * L_topo``, where
``L_adv = -InfoNCE(v, v') - beta * InfoNCE(v', u)`` (temperature 0.1) and
``L_topo = -Topo(v, v') - gamma * Topo(v', u)`` (``v``, ``v'``: clean and patched image embeddings,
``u``: text embeddings); alpha 10, beta 5, gamma 5, delta 1, Adam 2e-4 (0.5, 0.999), batch 16,
20 epochs. The discriminator is trained with BCE on clean vs patched images and its weights are
clipped to [-0.01, 0.01] after every step. ``Topo`` compares soft neighbourhood distributions
within a batch: ``KL(P || Q) + KL(1 - P || 1 - Q)``.

Deviations from the reference, on purpose:

- the patch is pasted in [0, 1] pixel space, before the model's normalization (the reference
  pastes onto CLIP-normalised tensors with ImageNet-derived bounds);
- the patch geometry scales with the image: side ``floor(sqrt(p * H * W))`` (38 px at 224 and
  p = 0.03), bottom-right corner with a margin of ``round(14 * H / 224)``;
- one fixed noise vector instead of a batch of them collapsed by a convolution across the batch
  (both make G a reparameterisation of a single patch);
- metrics: the reference's "accuracy" compares a batch index with a class label and its retrieval
  "mAP" at k = 1 is precision@1; here the patched images are scored by the task's objective
  (zero-shot accuracy over class prompts, TR/IR@K over the gallery) and the fooling rate is the
  share of changed predictions (``fooling-rate``, ``accuracy-drop`` metrics).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mmeval import Attack, AttackOutput, Batch, DataError, build_stage

from .declared import AdvCLIPDeclared, AdvCLIPParams

NOISE = 100


def patch_mask(height: int, width: int, fraction: float) -> torch.Tensor:
    """``[1, 1, H, W]`` binary mask of the bottom-right square patch."""
    side = max(1, math.isqrt(int(fraction * height * width)))
    margin = round(14 * height / 224)
    mask = torch.zeros(1, 1, height, width)
    top, left = max(0, height - margin - side), max(0, width - margin - side)
    mask[..., top:top + side, left:left + side] = 1.0
    return mask


def apply_patch(images: torch.Tensor, patch: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Replacement, not addition: ``mask * patch + (1 - mask) * images``."""
    return torch.where(mask.bool(), patch, images)


class Generator(nn.Module):
    """DCGAN-style transposed convolutions from a noise vector to a ``[1, 3, H, W]`` map in [0, 1]."""

    def __init__(self, size: int, width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.ConvTranspose2d(NOISE, width * 4, 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(width * 4), nn.ReLU(True)]
        channels, side = width * 4, 4
        while side < size:
            out = max(width, channels // 2)
            layers += [nn.ConvTranspose2d(channels, out, 4, 2, 1, bias=False), nn.BatchNorm2d(out),
                       nn.ReLU(True)]
            channels, side = out, side * 2
        layers += [nn.Conv2d(channels, 3, 3, 1, 1), nn.Tanh()]
        self.net, self.size = nn.Sequential(*layers), size

    def forward(self, z: torch.Tensor, height: int, width: int) -> torch.Tensor:
        out = self.net(z)
        out = F.interpolate(out, size=(height, width), mode="bilinear", align_corners=False)
        return (out + 1) / 2


class Discriminator(nn.Module):
    """Convolutions with LeakyReLU(0.2) and BatchNorm (none on the first layer) to one logit."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, width, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(width, width * 2, 4, 2, 1), nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2, True),
            nn.Conv2d(width * 2, width * 4, 4, 2, 1), nn.BatchNorm2d(width * 4),
            nn.LeakyReLU(0.2, True), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width * 4, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


def info_nce(q: torch.Tensor, k: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE with in-batch negatives: cross-entropy of the diagonal of ``q k^T / T``."""
    logits = F.normalize(q.float(), dim=-1) @ F.normalize(k.float(), dim=-1).T / temperature
    return F.cross_entropy(logits, torch.arange(len(q), device=q.device))


def _neighbourhood(e: torch.Tensor) -> torch.Tensor:
    """Row-normalised soft neighbourhoods: distances shifted by each row's nearest neighbour."""
    e = F.normalize(e.float(), dim=-1)
    eye = torch.eye(len(e), dtype=torch.bool, device=e.device)
    dist = (1 - e @ e.T).masked_fill(eye, 3.0)
    dist = (dist - dist.min(dim=1, keepdim=True).values).masked_fill(eye, 0.0)
    sim = (2 - dist) / 2  # (s + 1) / 2 with s = 1 - dist
    return sim / sim.sum(dim=1, keepdim=True)


def topology(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """How far the neighbourhood structure of ``a`` is from that of ``b``."""
    p, q = _neighbourhood(b), _neighbourhood(a)
    return ((p * ((p + eps) / (q + eps)).log()).sum()
            + ((1 - p) * ((1 - p + eps) / (1 - q + eps)).log()).sum())


def _pairs(dataset: Any, height: int, width: int) -> tuple[torch.Tensor, list[str]]:
    """Every image of ``dataset`` at ``H x W`` with one text each (its first caption, else its class
    prompt)."""
    images, texts = [], []
    names = getattr(dataset, "class_names", None)
    for i in range(len(dataset)):
        s = dataset[i]
        if s.texts:
            texts.append(s.texts[0])
        elif names and s.label is not None:
            texts.append(f"This is a photo of a {names[s.label]}")
        else:
            raise DataError(f"AdvCLIP trains on image-text pairs; sample {s.sample_id} of the "
                            "training dataset has neither captions nor a class label")
        images.append(s.image)
    x = torch.stack(images)
    if x.shape[-2:] != (height, width):
        x = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False).clamp(0, 1)
    return x, texts


class AdvCLIP(AdvCLIPDeclared, Attack):
    """A universal patch trained once per cell on ``train_dataset``, pasted on every image."""

    def __init__(self, params: AdvCLIPParams | None = None) -> None:
        super().__init__(params)
        self._patch: tuple[Any, tuple[int, int], torch.Tensor] | None = None

    def patch(self, model: Any, height: int, width: int, device: torch.device) -> torch.Tensor:
        """The trained ``[1, 3, H, W]`` patch map for ``model`` (trained on first use)."""
        if self._patch is None or self._patch[0] is not model or self._patch[1] != (height, width):
            self._patch = (model, (height, width), self.fit(model, height, width, device))
        return self._patch[2]

    def fit(self, model: Any, height: int, width: int, device: torch.device) -> torch.Tensor:
        """Train the generator against the frozen ``model``; the patch map it settles on."""
        p = self.params
        x_all, texts = _pairs(build_stage(p.train_dataset, "dataset"), height, width)
        x_all = x_all.to(device)
        mask = patch_mask(height, width, p.patch_fraction).to(device)
        with torch.no_grad():
            u_all = torch.cat([model.encode_text(texts[i:i + 256]).float()
                               for i in range(0, len(texts), 256)])
            v_all = torch.cat([model.encode_image(x_all[i:i + 256]).float()
                               for i in range(0, len(x_all), 256)])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(p.seed)
            gen, disc = Generator(max(height, width)).to(device), Discriminator().to(device)
            z = torch.randn(1, NOISE, 1, 1).to(device)
        order = torch.Generator().manual_seed(p.seed)
        opt_g = torch.optim.Adam(gen.parameters(), lr=p.lr, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(disc.parameters(), lr=p.lr, betas=(0.5, 0.999))
        bce = nn.BCEWithLogitsLoss()
        gen.train()
        disc.train()
        for _ in range(p.epochs):
            perm = torch.randperm(len(x_all), generator=order)
            for start in range(0, len(perm) - 1, p.batch_size):
                idx = perm[start:start + p.batch_size].to(device)
                if len(idx) < 2:  # in-batch negatives need two samples
                    continue
                x, u, v = x_all[idx], u_all[idx], v_all[idx]
                ones, zeros = torch.ones(len(x), device=device), torch.zeros(len(x), device=device)
                patched = apply_patch(x, gen(z, height, width), mask)
                d_loss = bce(disc(x), ones) + bce(disc(patched.detach()), zeros)
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                opt_d.step()
                with torch.no_grad():
                    for w in disc.parameters():
                        w.clamp_(-0.01, 0.01)
                v_adv = model.encode_image(patched).float()
                l_adv = -info_nce(v, v_adv, p.temperature) - p.beta * info_nce(v_adv, u, p.temperature)
                l_topo = -topology(v, v_adv) - p.gamma * topology(v_adv, u)
                g_loss = (bce(disc(patched), ones) + p.alpha * l_adv + F.mse_loss(patched, x)
                          + p.delta * l_topo)
                opt_g.zero_grad(set_to_none=True)
                g_loss.backward()
                opt_g.step()
        gen.eval()
        with torch.no_grad():
            return gen(z, height, width).detach()

    def run(self, model: Any, batch: Batch, objective: Any, rng: Any) -> AttackOutput:
        x = batch.images
        h, w = x.shape[-2:]
        patch = self.patch(model, h, w, x.device)
        with torch.no_grad():
            adv = apply_patch(x, patch.to(x), patch_mask(h, w, self.params.patch_fraction).to(x))
        return AttackOutput(images=adv)
