"""``zoo/tiny-classifier-shapes``: a small CNN image classifier of the 10 shapes, trained from scratch
on shapes — the image-classifier branch Multi-Shield (Villani et al., arXiv 2412.10353) pairs with
the tiny CLIP, so detection with abstention runs offline.

Architecture: three 3x3 conv blocks (16, 32, 64 channels, BatchNorm, ReLU, 2x2 max-pool), global
average pooling and a linear layer; [0, 1] images at 48 px, normalized inside the forward. Trained
with cross-entropy on 10k images (dataset seeds 1000 + seed, disjoint from evaluation seeds < 1000),
AdamW with cosine decay; about a minute on 2 CPU cores.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data.shapes import ShapesDataset, ShapesParams
from ..models.trainable import load_weights
from ..progress import progress as progress_bar
from ..protocols import InputSpec
from .declared import TinyClassifierDeclared, TinyClassifierParams

IMAGE_SIZE = 48
TRAIN_IMAGES = 10_000
STEPS = 600
BATCH = 128
LR = 3e-3
CHECKPOINT = "classifier.safetensors"
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def _network(num_classes: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = 3
    for out in (16, 32, 64):
        layers += [nn.Conv2d(width, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(),
                   nn.MaxPool2d(2)]
        width = out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes))


def build(out_dir: Path, seed: int, progress: bool = True) -> dict[str, Any]:
    """Train the classifier and save it as safetensors in ``out_dir``."""
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    ds = ShapesDataset(ShapesParams(n=TRAIN_IMAGES, seed=1000 + seed, image_size=IMAGE_SIZE))
    images = torch.empty(len(ds), 3, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8)
    labels = torch.empty(len(ds), dtype=torch.long)
    for i in progress_bar(range(len(ds)), desc="tiny-classifier: rendering", enabled=progress):
        s = ds[i]
        images[i], labels[i] = (s.image * 255).round().to(torch.uint8), s.label
    model = TinyClassifier(load=False)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
    g = torch.Generator().manual_seed(seed)
    model.train()
    loss_value = math.nan
    for step in progress_bar(range(STEPS), desc="tiny-classifier: training", unit="step",
                             enabled=progress):
        for group in opt.param_groups:
            group["lr"] = LR * 0.5 * (1 + math.cos(math.pi * step / STEPS))
        idx = torch.randint(0, len(ds), (BATCH,), generator=g)
        loss = F.cross_entropy(model.classify(images[idx].float() / 255), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_value = loss.item()
    model.eval()
    test = ShapesDataset(ShapesParams(n=500, seed=0, image_size=IMAGE_SIZE))
    with torch.no_grad():
        x = torch.stack([test[i].image for i in range(len(test))])
        y = torch.tensor([test[i].label for i in range(len(test))])
        accuracy = (model.classify(x).argmax(1) == y).float().mean().item()
    save_file({k: v.contiguous() for k, v in model.net.state_dict().items()}, out_dir / CHECKPOINT)
    return {"steps": STEPS, "batch": BATCH, "train_images": TRAIN_IMAGES,
            "final_loss": round(loss_value, 4), "accuracy_shapes_seed0": round(accuracy, 4),
            "checkpoint": CHECKPOINT}


class TinyClassifier(TinyClassifierDeclared, nn.Module):
    """The shapes classifier (packaged, or trained on first use): an
    :class:`~mmeval.protocols.ImageClassifier`."""

    def __init__(self, params: TinyClassifierParams | None = None, *, load: bool = True) -> None:
        super().__init__()
        from ..data.shapes import SHAPES

        p = params or TinyClassifierParams()
        self.class_names = SHAPES
        self.input_spec = InputSpec((IMAGE_SIZE, IMAGE_SIZE), MEAN, STD)
        self.net = _network(len(SHAPES))
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)
        if load:
            from . import ensure

            path = ensure("tiny-classifier-shapes", seed=p.seed)
            self.net.load_state_dict(load_weights(path / CHECKPOINT))
            self.eval()

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 10]`` logits of [0, 1] images (resized to 48 px inside)."""
        if tuple(images.shape[-2:]) != (IMAGE_SIZE, IMAGE_SIZE):
            images = F.interpolate(images, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear",
                                   align_corners=False)
        return self.net((images - self.mean) / self.std)


def load(seed: int = 0) -> TinyClassifier:
    """The shapes classifier of training seed ``seed`` (built on first use)."""
    return TinyClassifier(TinyClassifierParams(seed=seed))
