"""The audio front end audio towers run inside their forward: a log-mel spectrogram in torch, so
gradients reach the waveform (attacks perturb samples, never features)."""

from __future__ import annotations

import math

import torch
from torch import nn


def hz_to_mel(hz: float) -> float:
    """HTK mel scale: ``2595 log10(1 + hz / 700)``."""
    return 2595.0 * math.log10(1.0 + hz / 700.0)


def mel_filters(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> torch.Tensor:
    """``[n_fft // 2 + 1, n_mels]`` triangular filters evenly spaced on the HTK mel scale."""
    freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    mels = torch.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2, dtype=torch.float64)
    edges = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    up = (freqs[:, None] - lower) / (centre - lower)
    down = (upper - freqs[:, None]) / (upper - centre)
    return up.minimum(down).clamp_min(0.0).float()


class LogMel(nn.Module):
    """``[B, T]`` waveforms -> ``[B, n_mels, frames]`` log-mel power in dB (Hann window, centred
    frames), differentiable end to end."""

    def __init__(self, sample_rate: int, n_fft: int, hop: int, n_mels: int, fmin: float = 0.0,
                 fmax: float | None = None) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("filters", mel_filters(sample_rate, n_fft, n_mels, fmin,
                                                    fmax or sample_rate / 2), persistent=False)

    def frames(self, length: int) -> int:
        """How many frames a waveform of ``length`` samples gives."""
        return length // self.hop + 1

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(wave.float(), self.n_fft, self.hop, window=self.window,
                          return_complex=True)
        power = spec.real.square() + spec.imag.square()
        mel = torch.einsum("bft,fm->bmt", power, self.filters)
        return 10.0 * torch.log10(mel + 1e-10)
