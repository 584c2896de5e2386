"""A deterministic toy CLIP-like model and the data it recognises.

The "world" is a set of smooth class prototype images drawn from a seed. The image tower is a small
random MLP; the text tower embeds each class word at the image tower's features of that class's
prototype, so zero-shot classification of noisy prototypes works (>= 90%) while small Linf
perturbations can still flip decisions. Tiny and fast: tests use it to check attacks and the runner.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..models.trainable import Trainable
from ..protocols import ImageSpec
from ..types import Sample
from .declared import (
    CLASS_NAMES,
    ToyDatasetDeclared,
    ToyDatasetParams,
    ToyVLMDeclared,
    ToyVLMParams,
)

_VOCAB = 256


def prototypes(seed: int, num_classes: int, image_size: int) -> torch.Tensor:
    """``[C, 3, S, S]`` smooth patterns in [0.2, 0.8], deterministic from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    coarse = 0.2 + 0.6 * torch.rand(num_classes, 3, 4, 4, generator=g)
    return F.interpolate(coarse, size=(image_size, image_size), mode="bilinear",
                         align_corners=False)


class ToyVLM(ToyVLMDeclared, Trainable, nn.Module):
    """Toy dual encoder on 3 x S x S images; text = mean of word embeddings (class words aligned)."""

    image_prefixes = ("image_tower.",)
    scale_names = ("logit_scale_log",)
    checkpoint_file = "toy_vlm.safetensors"

    def __init__(self, params: ToyVLMParams | None = None) -> None:
        super().__init__()
        p = params or ToyVLMParams()
        self.params = p
        s = p.image_size
        self.input_specs = {"image": ImageSpec((s, s), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))}
        self.register_buffer("mean", torch.tensor(self.input_specs["image"].mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(self.input_specs["image"].std).view(1, 3, 1, 1))
        g = torch.Generator().manual_seed(p.seed + 1)
        self.image_tower = nn.Sequential(
            nn.Flatten(), nn.Linear(3 * s * s, 128), nn.Tanh(), nn.Dropout(0.1),
            nn.Linear(128, p.embed_dim),
        )
        with torch.no_grad():
            for layer in self.image_tower:
                if isinstance(layer, nn.Linear):
                    layer.weight.copy_(torch.randn(layer.weight.shape, generator=g)
                                       / math.sqrt(layer.in_features))
                    layer.bias.zero_()
        self.word_embedding = nn.EmbeddingBag(_VOCAB, p.embed_dim, mode="mean")
        self.class_names = CLASS_NAMES[: p.num_classes]
        with torch.no_grad():
            self.word_embedding.weight.copy_(0.05 * torch.randn(_VOCAB, p.embed_dim, generator=g))
            anchors = self.image_tower.eval()(
                self._normalize(prototypes(p.seed, p.num_classes, s)))
            for i, name in enumerate(self.class_names):
                self.word_embedding.weight[self._word_id(name)] = anchors[i] * 3.0
        self.logit_scale_log = nn.Parameter(torch.tensor(math.log(100.0)))
        if p.pretrained:
            self.load_checkpoint(p.pretrained)
        self.train()

    @staticmethod
    def _word_id(word: str) -> int:
        try:
            return CLASS_NAMES.index(word)
        except ValueError:
            return len(CLASS_NAMES) + zlib.crc32(word.encode()) % (_VOCAB - len(CLASS_NAMES))

    def _normalize(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.mean) / self.std

    @property
    def logit_scale(self) -> torch.Tensor:
        return self.logit_scale_log.detach().exp()

    def encode_image(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        s = self.input_specs["image"].image_size
        if tuple(images.shape[-2:]) != s:
            images = F.interpolate(images, size=s, mode="bilinear", align_corners=False)
        feats = self.image_tower(self._normalize(images))
        return F.normalize(feats, dim=-1) if normalize else feats

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        ids, offsets = [], []
        for text in texts:
            offsets.append(len(ids))
            ids.extend(self._word_id(w) for w in re.findall(r"[a-z0-9]+", text.lower()) or ["_"])
        dev = self.word_embedding.weight.device
        emb = self.word_embedding(torch.tensor(ids, device=dev), torch.tensor(offsets, device=dev))
        return F.normalize(emb, dim=-1)

    def checkpoint_module(self) -> nn.Module:
        return self

    def checkpoint_ref(self, path: Path) -> dict[str, Any]:
        return {"name": "mmeval/toy-vlm",
                "params": {**self.params.model_dump(), "pretrained": str(path)}}


class ToyDataset(ToyDatasetDeclared):
    """Noisy copies of the toy world's class prototypes; sample ``i`` has label ``i % C``."""

    def __init__(self, params: ToyDatasetParams | None = None) -> None:
        self.params = p = params or ToyDatasetParams()
        self.class_names = CLASS_NAMES[: p.num_classes]
        self._protos = prototypes(p.world_seed, p.num_classes, p.image_size)

    def __len__(self) -> int:
        return self.params.n

    def label(self, index: int) -> int:
        return index % self.params.num_classes

    def __getitem__(self, index: int) -> Sample:
        p = self.params
        if not 0 <= index < p.n:
            raise IndexError(index)
        label = self.label(index)
        g = torch.Generator().manual_seed(p.sample_seed * 1_000_003 + index)
        noise = p.noise * torch.randn(self._protos.shape[1:], generator=g)
        image = (self._protos[label] + noise).clamp(0.0, 1.0)
        return Sample(f"toy-{index:05d}", image, label, (f"a photo of a {self.class_names[label]}",))
