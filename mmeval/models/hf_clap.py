"""Hugging Face transformers CLAP (Elizalde et al., "CLAP: Learning Audio Concepts from Natural
Language Supervision", ICASSP 2023; LAION's ``ClapModel``, Wu et al., ICASSP 2023) as a VLModel,
from a model id (weights already in the local HF cache) or a local directory written by
``save_pretrained`` (the model with its ``ClapProcessor``).

``ClapFeatureExtractor`` computes its log-mel features in NumPy, which gradients cannot cross, so
the adapter computes the same features in torch inside the forward and attacks perturb the
waveform itself: a waveform shorter than the extractor's ``nb_max_samples`` is repeated whole and
zero-padded to it (``padding="repeatpad"``), a longer one cropped to its start; the power
spectrogram takes centred, reflect-padded frames of ``fft_window_size`` samples with a periodic
Hann window every ``hop_length``; the extractor's ``mel_filters`` (``mel_filters_slaney`` unless
``truncation="fusion"``) map it to mel bands, and ``10 log10(max(mel, 1e-10))`` is the log-mel. In
fusion mode the model takes that log-mel four times over (what the extractor gives audio no longer
than its maximum, with ``is_longer`` False; the extractor itself flags one random sample of a
batch without long audio as longer, a training quirk of LAION-CLAP that makes a sample's embedding
depend on the batch, which the adapter does not reproduce). Cropping long audio differs from the
extractor's fusion of random crops, which is not deterministic either. ``tests/test_hf_clap.py``
checks features and embeddings against ``ClapProcessor``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelLoadError
from ..protocols import AudioSpec
from .declared import HFClapDeclared, HFClapParams
from .hf_clip import PretrainedDirectory, _transformers


class ClapFeatures(nn.Module):
    """``[B, T]`` waveforms -> the ``input_features`` ``ClapFeatureExtractor`` computes, in torch."""

    def __init__(self, extractor: Any) -> None:
        super().__init__()
        self.length = int(extractor.nb_max_samples)
        self.n_fft, self.hop = int(extractor.fft_window_size), int(extractor.hop_length)
        self.fusion = extractor.truncation == "fusion"
        self.repeat = extractor.padding == "repeatpad"
        filters = extractor.mel_filters if self.fusion else extractor.mel_filters_slaney
        self.register_buffer("filters", torch.as_tensor(filters, dtype=torch.float32),
                             persistent=False)
        self.register_buffer("window", torch.hann_window(self.n_fft, periodic=True),
                             persistent=False)

    def fit(self, wave: torch.Tensor) -> torch.Tensor:
        """Each waveform repeated (``repeatpad``) and zero-padded, or cropped, to the length."""
        wave = wave[:, :self.length]
        n = wave.shape[1]
        if n < self.length and self.repeat:
            wave = wave.repeat(1, self.length // n)
        return F.pad(wave, (0, self.length - wave.shape[1]))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(self.fit(wave.float()), self.n_fft, self.hop, window=self.window,
                          center=True, pad_mode="reflect", return_complex=True)
        power = spec.real.square() + spec.imag.square()  # [B, F, frames]
        mel = torch.einsum("bft,fm->btm", power, self.filters)
        logmel = 10.0 * torch.log10(mel.clamp_min(1e-10))  # [B, frames, mels]
        return logmel.unsqueeze(1).expand(-1, 4, -1, -1) if self.fusion else logmel.unsqueeze(1)


class HFCLAP(HFClapDeclared, PretrainedDirectory, nn.Module):
    """transformers ``ClapModel``: [-1, 1] waveforms at the extractor's sampling rate and texts
    in, L2-normalized embeddings out."""

    audio_prefixes = ("model.audio_model.", "model.audio_projection.")
    image_prefixes = ()
    scale_names = ("model.logit_scale_a", "model.logit_scale_t")

    def __init__(self, params: HFClapParams) -> None:
        super().__init__()
        tf = _transformers()
        self.params = p = params
        try:
            self.model = tf.ClapModel.from_pretrained(p.model, revision=p.revision)
            self.tokenizer = tf.AutoTokenizer.from_pretrained(p.tokenizer or p.model,
                                                              revision=p.revision)
            extractor = tf.ClapFeatureExtractor.from_pretrained(p.model, revision=p.revision)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(
                f"cannot load '{p.model}' as ClapModel with its feature extractor: {exc}. "
                "Offline, pass a local directory (model.save_pretrained and "
                "processor.save_pretrained) or pre-populate the HF cache") from exc
        self.extractor = extractor
        self.features = ClapFeatures(extractor)
        self.input_specs = {"audio": AudioSpec(int(extractor.sampling_rate), self.features.length)}
        self.max_length = getattr(self.model.config.text_config, "max_position_embeddings", 512)

    @property
    def logit_scale(self) -> torch.Tensor:
        """The audio-to-text scale (``logit_scale_a``: ``ClapModel``'s ``logits_per_audio``)."""
        return self.model.logit_scale_a.detach().exp()

    def encode_audio(self, waveforms: torch.Tensor) -> torch.Tensor:
        features = self.features(waveforms)
        longer = torch.zeros(len(features), 1, dtype=torch.bool, device=features.device)
        feats = self.model.get_audio_features(input_features=features, is_longer=longer)
        return F.normalize(feats, dim=-1)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        device = self.model.logit_scale_t.device
        tokens = self.tokenizer(list(texts), padding=True, truncation=True,
                                max_length=self.max_length, return_tensors="pt").to(device)
        feats = self.model.get_text_features(input_ids=tokens["input_ids"],
                                             attention_mask=tokens.get("attention_mask"))
        return F.normalize(feats, dim=-1)

    def trainable_logit_scale(self) -> torch.Tensor:
        return self.model.logit_scale_a.exp()

    def saved_with(self) -> list[Any]:
        return [self.tokenizer, self.extractor]

    def checkpoint_ref(self, path: Path) -> dict[str, Any]:
        return {"name": "hf/clap", "params": {"model": str(path)}}
