"""Synthetic shapes: procedural images with several captions each, deterministic from a seed.

Every image shows one shape of one colour, size and position on a noisy background. The four
attributes are drawn independently (none gives another away), so zero-shot accuracy and retrieval
recall measure real recognition. Class sets: ``shape`` (10), ``color`` (10), ``size`` (3),
``position`` (9) and ``shape-color`` (100).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from PIL import Image, ImageDraw
from pydantic import Field

from ..registry import Params
from ..types import Sample

SHAPES = ("circle", "square", "triangle", "star", "cross", "ring", "diamond", "crescent", "arrow",
          "heart")
COLORS = {
    "red": (220, 40, 40), "green": (40, 170, 60), "blue": (50, 90, 230), "yellow": (235, 220, 50),
    "purple": (140, 60, 190), "orange": (245, 140, 30), "cyan": (50, 210, 220),
    "pink": (245, 135, 200), "white": (245, 245, 245), "brown": (130, 80, 40),
}
SIZES = {"small": 0.12, "medium": 0.18, "large": 0.24}  # radius as a fraction of the image side
POSITIONS = {
    "top left": (0.27, 0.27), "top": (0.5, 0.27), "top right": (0.73, 0.27),
    "left": (0.27, 0.5), "center": (0.5, 0.5), "right": (0.73, 0.5),
    "bottom left": (0.27, 0.73), "bottom": (0.5, 0.73), "bottom right": (0.73, 0.73),
}
CAPTION_TEMPLATES = (
    "a {size} {color} {shape} in the {position}",
    "there is a {size} {shape} colored {color} in the {position}",
    "a {color} {shape} of {size} size in the {position}",
    "the {position} shows a {size} {color} {shape}",
    "{size} {color} {shape}, {position}",
)
ClassSet = Literal["shape", "color", "size", "position", "shape-color"]


@dataclass(frozen=True)
class Attributes:
    shape: str
    color: str
    size: str
    position: str
    angle: float
    jitter: tuple[float, float]
    background: float

    def captions(self, n: int) -> tuple[str, ...]:
        fields = {"shape": self.shape, "color": self.color, "size": self.size,
                  "position": self.position}
        return tuple(t.format(**fields) for t in CAPTION_TEMPLATES[:n])


def class_names(class_set: ClassSet) -> tuple[str, ...]:
    if class_set == "shape-color":
        return tuple(f"{c} {s}" for c in COLORS for s in SHAPES)
    return {"shape": SHAPES, "color": tuple(COLORS), "size": tuple(SIZES),
            "position": tuple(POSITIONS)}[class_set]


def label_of(attrs: Attributes, class_set: ClassSet) -> int:
    if class_set == "shape-color":
        return list(COLORS).index(attrs.color) * len(SHAPES) + SHAPES.index(attrs.shape)
    return class_names(class_set).index(getattr(attrs, class_set))


def draw_attributes(rng: np.random.Generator) -> Attributes:
    """Each attribute drawn independently and uniformly."""
    return Attributes(
        shape=SHAPES[rng.integers(len(SHAPES))],
        color=list(COLORS)[rng.integers(len(COLORS))],
        size=list(SIZES)[rng.integers(len(SIZES))],
        position=list(POSITIONS)[rng.integers(len(POSITIONS))],
        angle=float(rng.uniform(-15, 15)),
        jitter=(float(rng.uniform(-0.03, 0.03)), float(rng.uniform(-0.03, 0.03))),
        background=float(rng.uniform(0.15, 0.45)),
    )


def _polygon(kind: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    def ring(n: int, radii: list[float], offset: float = -90.0) -> list[tuple[float, float]]:
        pts = []
        for i in range(n):
            a = math.radians(offset + angle + 360.0 * i / n)
            rr = radii[i % len(radii)]
            pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
        return pts

    if kind == "square":
        return ring(4, [r * 1.1], offset=-45.0)
    if kind == "triangle":
        return ring(3, [r * 1.15])
    if kind == "diamond":
        return ring(4, [r * 1.15, r * 0.7])
    if kind == "star":
        return ring(10, [r * 1.15, r * 0.45])
    if kind == "cross":
        t = r * 0.38
        base = [(-t, -r), (t, -r), (t, -t), (r, -t), (r, t), (t, t), (t, r), (-t, r), (-t, t),
                (-r, t), (-r, -t), (-t, -t)]
    elif kind == "arrow":
        base = [(-r, -0.3 * r), (0.1 * r, -0.3 * r), (0.1 * r, -0.8 * r), (r, 0.0),
                (0.1 * r, 0.8 * r), (0.1 * r, 0.3 * r), (-r, 0.3 * r)]
    else:
        raise ValueError(kind)
    ca, sa = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    return [(cx + x * ca - y * sa, cy + x * sa + y * ca) for x, y in base]


def render(attrs: Attributes, image_size: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """An ``[S, S, 3]`` uint8 image of ``attrs`` (drawn 4x supersampled, then downscaled)."""
    ss = 4
    size = image_size * ss
    bg = int(attrs.background * 255)
    img = Image.new("RGB", (size, size), (bg, bg, bg))
    draw = ImageDraw.Draw(img)
    px, py = POSITIONS[attrs.position]
    cx, cy = (px + attrs.jitter[0]) * size, (py + attrs.jitter[1]) * size
    r = SIZES[attrs.size] * size
    color = COLORS[attrs.color]
    if attrs.shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color)
    elif attrs.shape == "ring":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color)
        q = r * 0.55
        draw.ellipse([cx - q, cy - q, cx + q, cy + q], fill=(bg, bg, bg))
    elif attrs.shape == "crescent":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color)
        dx = r * 0.55 * math.cos(math.radians(attrs.angle))
        dy = r * 0.55 * math.sin(math.radians(attrs.angle))
        draw.ellipse([cx + dx - r * 0.85, cy + dy - r * 0.85, cx + dx + r * 0.85,
                      cy + dy + r * 0.85], fill=(bg, bg, bg))
    elif attrs.shape == "heart":
        q = r * 0.55
        draw.ellipse([cx - 2 * q + 0.1 * r, cy - r * 0.75, cx + 0.1 * r, cy - r * 0.75 + 2 * q],
                     fill=color)
        draw.ellipse([cx - 0.1 * r, cy - r * 0.75, cx + 2 * q - 0.1 * r, cy - r * 0.75 + 2 * q],
                     fill=color)
        draw.polygon([(cx - r * 0.98, cy - r * 0.05), (cx + r * 0.98, cy - r * 0.05),
                      (cx, cy + r * 1.05)], fill=color)
    else:
        draw.polygon(_polygon(attrs.shape, cx, cy, r, attrs.angle), fill=color)
    arr = np.asarray(img.resize((image_size, image_size), Image.BOX), dtype=np.float32)
    arr = arr + rng.normal(0.0, noise * 255.0, arr.shape)
    return np.clip(arr, 0, 255).astype(np.uint8)


class ShapesParams(Params):
    n: int = Field(default=1000, ge=1, description="number of samples")
    seed: int = Field(default=0, ge=0, description="dataset seed; the zoo trains on seed 1000+")
    image_size: int = Field(default=48, ge=16, le=512, description="the zoo CLIP works at 48")
    classes: ClassSet = Field(default="shape", description="which attribute is the label")
    noise: float = Field(default=0.04, ge=0.0, le=0.5, description="pixel noise std in [0, 1] units")
    captions_per_image: int = Field(default=5, ge=1, le=len(CAPTION_TEMPLATES))


class ShapesDataset:
    """Procedural shapes; sample ``i`` depends only on (seed, i), so any subset is reproducible."""

    Params = ShapesParams
    objectives: ClassVar[tuple[str, ...]] = ("classification", "retrieval")
    #: what the zoo models were trained on (a text attack with the zoo MLM fits it only)
    domain: ClassVar[str] = "shapes"

    def __init__(self, params: ShapesParams | None = None) -> None:
        self.params = params or ShapesParams()
        self.class_names = class_names(self.params.classes)

    def __len__(self) -> int:
        return self.params.n

    def sample_id(self, index: int) -> str:
        return f"shapes-{self.params.seed}-{index:06d}"

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.params.seed, index])

    def attributes(self, index: int) -> Attributes:
        return draw_attributes(self._rng(index))

    def label(self, index: int) -> int:
        return label_of(self.attributes(index), self.params.classes)

    def __getitem__(self, index: int) -> Sample:
        p = self.params
        if not 0 <= index < p.n:
            raise IndexError(index)
        rng = self._rng(index)
        attrs = draw_attributes(rng)
        pixels = render(attrs, p.image_size, p.noise, rng)
        import torch  # not at import: registering and planning read this module without torch

        image = torch.from_numpy(pixels).permute(2, 0, 1).float().div_(255.0)
        return Sample(self.sample_id(index), image, label_of(attrs, p.classes),
                      attrs.captions(p.captions_per_image))
