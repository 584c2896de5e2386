"""Synthetic sounds: the shapes world rendered as audio, deterministic from a seed.

Sample ``i`` of seed ``s`` has the attributes of shapes sample ``i`` of seed ``s`` (the same draw),
heard instead of seen, so an image, a waveform and the captions describe one scene:

- **shape -> timbre**: each shape has its own partials (ratios to the fundamental and amplitudes:
  a pure tone, odd harmonics, a bell's inharmonic partials, ...), the heart a 12 Hz tremolo;
- **color -> pitch**: ten fundamentals from 130 to 600 Hz, about three semitones apart;
- **size -> loudness**: peak amplitude 0.2, 0.4 or 0.7 of full scale;
- **position -> rhythm**: the row sets the number of notes (top 1, middle 2, bottom 3) and the
  column how much of each note's slot sounds (left 30 %, centre 60 %, right 90 %);
- the nuisance attributes vary the rest: the angle detunes by up to 1.5 %, the jitter shifts the
  onset by up to 30 ms, the background sets the level of the background noise.

Waveforms are mono float ``[T]`` in [-1, 1] (8 kHz, one second by default); captions and class
sets are the shapes world's.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from ..registry import Params
from ..types import Sample
from .shapes import (
    CAPTION_TEMPLATES,
    COLORS,
    POSITIONS,
    SHAPES,
    SIZES,
    Attributes,
    ClassSet,
    ShapesDataset,
    class_names,
    draw_attributes,
    label_of,
)

#: each shape's partials: (frequency ratio to the fundamental, relative amplitude)
TIMBRES: dict[str, tuple[tuple[float, float], ...]] = {
    "circle": ((1, 1.0),),
    "square": ((1, 1.0), (3, 1 / 3), (5, 1 / 5), (7, 1 / 7)),
    "triangle": ((1, 1.0), (3, 1 / 9), (5, 1 / 25)),
    "star": ((1, 0.5), (2, 0.5), (3, 0.5), (4, 0.5), (5, 0.5), (6, 0.5)),
    "cross": ((1, 0.3), (2, 1.0), (4, 0.6)),
    "ring": ((1, 1.0), (2.76, 0.6), (5.4, 0.4)),
    "diamond": ((1, 0.4), (3, 1.0)),
    "crescent": ((1, 1.0), (1.5, 0.7)),
    "arrow": ((1, 1.0), (2, 1 / 2), (3, 1 / 3), (4, 1 / 4), (5, 1 / 5)),
    "heart": ((1, 1.0), (2, 0.3)),
}
#: shapes whose tone is amplitude-modulated: (rate in Hz, depth)
TREMOLO: dict[str, tuple[float, float]] = {"heart": (12.0, 0.8)}
#: each colour's fundamental in Hz (130 Hz times 1.185^k: about three semitones apart)
PITCHES: dict[str, float] = {c: 130.0 * 1.185**k for k, c in enumerate(COLORS)}
LOUDNESS: dict[str, float] = {"small": 0.2, "medium": 0.4, "large": 0.7}
#: position -> (notes, share of each note's slot that sounds)
RHYTHMS: dict[str, tuple[int, float]] = {
    name: (1 + row, (0.3, 0.6, 0.9)[col])
    for (name, _), (row, col) in zip(POSITIONS.items(), [(r, c) for r in range(3) for c in range(3)],
                                     strict=True)
}
RAMP_S = 0.01  # attack and release of each note, so notes start and end without clicks
assert set(TIMBRES) == set(SHAPES) and set(LOUDNESS) == set(SIZES)


def render(attrs: Attributes, sample_rate: int, duration: float, noise: float,
           rng: np.random.Generator) -> np.ndarray:
    """A ``[T]`` float32 waveform in [-1, 1] of ``attrs`` (see the module docstring)."""
    n = round(sample_rate * duration)
    t = np.arange(n) / sample_rate
    f0 = PITCHES[attrs.color] * (1 + 0.001 * attrs.angle)
    tone = np.zeros(n)
    for ratio, amp in TIMBRES[attrs.shape]:
        f = f0 * ratio
        if f < sample_rate / 2:
            tone += amp * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    if attrs.shape in TREMOLO:
        rate, depth = TREMOLO[attrs.shape]
        tone *= 1 - depth * 0.5 * (1 + np.sin(2 * np.pi * rate * t))
    tone /= np.abs(tone).max()
    notes, duty = RHYTHMS[attrs.position]
    onset = 0.05 + attrs.jitter[0]  # the jitter is within +-0.03 s
    slot = (duration - 0.1) / notes
    envelope = np.zeros(n)
    ramp = max(1, int(RAMP_S * sample_rate))
    for k in range(notes):
        a = int((onset + k * slot) * sample_rate)
        b = min(n, a + int(duty * slot * sample_rate))
        edge = min(ramp, (b - a) // 2)
        env = np.ones(b - a)
        env[:edge] = np.linspace(0, 1, edge)
        env[len(env) - edge:] = np.linspace(1, 0, edge)
        envelope[a:b] = env
    level = 0.005 + 0.03 * (attrs.background - 0.15) / 0.3  # background 0.15..0.45
    wave = LOUDNESS[attrs.size] * tone * envelope + rng.normal(0.0, level + noise, n)
    return np.clip(wave, -1.0, 1.0).astype(np.float32)


class SoundsParams(Params):
    n: int = Field(default=1000, ge=1, description="number of samples")
    seed: int = Field(default=0, ge=0, description="dataset seed (the same scenes as shapes of "
                      "this seed); the zoo trains on seed 1000+")
    sample_rate: int = Field(default=8000, ge=2000, le=48000, description="Hz; the zoo audio "
                             "models work at 8000")
    duration: float = Field(default=1.0, gt=0.2, le=10.0, description="seconds")
    classes: ClassSet = Field(default="shape", description="which attribute is the label")
    noise: float = Field(default=0.0, ge=0.0, le=0.5,
                         description="extra white-noise std in full-scale units")
    captions_per_sample: int = Field(default=5, ge=1, le=len(CAPTION_TEMPLATES))


class SoundsDataset(ShapesDataset):
    """The shapes world's scenes heard: sample ``i`` is shapes sample ``i`` of the same seed (its
    attributes, label and captions), rendered as sound."""

    Params = SoundsParams  # type: ignore[assignment]
    modality: ClassVar[str] = "audio"
    #: zero-shot prompts for ``templates="dataset"``
    templates: ClassVar[tuple[str, ...]] = ("this is the sound of a {}",)
    params: SoundsParams  # type: ignore[assignment]

    def __init__(self, params: SoundsParams | None = None) -> None:
        self.params = params or SoundsParams()
        self.class_names = class_names(self.params.classes)

    def sample_id(self, index: int) -> str:
        return f"sounds-{self.params.seed}-{index:06d}"

    def texts(self, index: int) -> tuple[str, ...]:
        return self.attributes(index).captions(self.params.captions_per_sample)

    def __getitem__(self, index: int) -> Sample:
        p = self.params
        if not 0 <= index < p.n:
            raise IndexError(index)
        rng = self._rng(index)
        attrs = draw_attributes(rng)
        wave = render(attrs, p.sample_rate, p.duration, p.noise, rng)
        import torch  # not at import: registering and planning read this module without torch

        return Sample(self.sample_id(index), label=label_of(attrs, p.classes),
                      texts=attrs.captions(p.captions_per_sample), audio=torch.from_numpy(wave),
                      sample_rate=p.sample_rate)
