"""``zoo/tiny-clap-shapes``: a small audio-text model trained contrastively from scratch on the
sounds world, in the manner of CLAP (Elizalde et al., "CLAP: Learning Audio Concepts from Natural
Language Supervision", ICASSP 2023).

Architecture (``zoo/configs/mmeval-tiny-clap.json``): the audio tower computes a 32-band log-mel
spectrogram of the 8 kHz waveform inside its forward (:class:`~mmeval.models.audio.LogMel`, so
attacks perturb samples), then four 3x3 convolutions (three with stride 2) and a linear layer over
the whole time-frequency map (where the notes fall is the rhythm); the text tower is open_clip's
text transformer in the tiny CLIP's configuration (3 layers, width 128, open_clip's BPE
tokenizer); 128-d joint space.

Training data: 20k sounds (dataset seeds 1000 + seed, disjoint from evaluation seeds < 1000) paired
with their five captions and, 30% of the time, a prompt-style partial description ("this is the
sound of a red circle"), so zero-shot prompts fall inside the text distribution. Symmetric InfoNCE
(Radford et al., ICML 2021), AdamW, warm-up + cosine (:mod:`mmeval.zoo.contrastive`). The
spectrograms are computed once before training (the front end has no parameters). As for the tiny
CLIP, the token-embedding rows no training text uses are redrawn as random signs times 0.02 so the
checkpoint compresses.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..data.sounds import SoundsDataset, SoundsParams
from ..models.audio import LogMel
from ..models.open_clip import import_open_clip
from ..models.trainable import Trainable
from ..progress import progress as progress_bar
from ..protocols import AudioSpec
from .contrastive import info_nce, learning_rate, optimizer_step, pick_captions, save_trained
from .declared import TinyCLAPDeclared, TinyCLAPParams

CONFIG = Path(__file__).parent / "configs" / "mmeval-tiny-clap.json"
TRAIN_SOUNDS = 20_000
STEPS = 900
BATCH = 128
LR = 2e-3
WARMUP = 100
CHECKPOINT = "tiny_clap.safetensors"


class AudioTower(nn.Module):
    """Waveform -> log-mel (dB, scaled by ``1 / db_scale``) -> conv stack -> linear embedding."""

    def __init__(self, embed_dim: int, sample_rate: int, length: int, n_fft: int, hop: int,
                 n_mels: int, fmin: float, width: int, db_scale: float) -> None:
        super().__init__()
        self.length, self.db_scale = length, db_scale
        self.frontend = LogMel(sample_rate, n_fft, hop, n_mels, fmin)
        w = width
        self.convs = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1), nn.GELU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(4 * w, 4 * w, 3, stride=2, padding=1), nn.GELU(),
        )
        with torch.no_grad():
            shape = self.convs(torch.zeros(1, 1, n_mels, self.frontend.frames(length))).shape
        self.proj = nn.Linear(math.prod(shape[1:]), embed_dim)

    def features(self, wave: torch.Tensor) -> torch.Tensor:
        """``[B, n_mels, frames]`` the scaled log-mel input of the conv stack."""
        return self.frontend(wave) / self.db_scale

    def forward_features(self, mel: torch.Tensor) -> torch.Tensor:
        return self.proj(self.convs(mel.unsqueeze(1)).flatten(1))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.forward_features(self.features(wave))


class TinyCLAPNet(nn.Module):
    """The two towers and the logit scale (the checkpoint's state dict)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        from open_clip.transformer import TextTransformer

        self.audio = AudioTower(cfg["embed_dim"], **cfg["audio_cfg"])
        self.text = TextTransformer(output_dim=cfg["embed_dim"], **cfg["text_cfg"])
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))


def _config() -> dict[str, Any]:
    return json.loads(CONFIG.read_text())


def _tokenizer(cfg: dict[str, Any]) -> Any:
    open_clip = import_open_clip()
    return open_clip.SimpleTokenizer(context_length=cfg["text_cfg"]["context_length"])


def prompt_texts(ds: SoundsDataset, index: int) -> list[str]:
    """Prompt-style partial descriptions of sample ``index``."""
    a = ds.attributes(index)
    return [f"this is the sound of a {a.shape}", f"this is the sound of a {a.color} {a.shape}",
            f"this is the sound of a {a.size} {a.color} {a.shape}",
            f"this is the sound of a {a.color} {a.shape} in the {a.position}"]


def build(out_dir: Path, seed: int, progress: bool = True) -> dict[str, Any]:
    """Train the tiny CLAP and save its state dict as safetensors in ``out_dir``."""
    cfg = _config()
    torch.manual_seed(seed)
    net = TinyCLAPNet(cfg)
    tokenizer = _tokenizer(cfg)
    audio = cfg["audio_cfg"]
    ds = SoundsDataset(SoundsParams(n=TRAIN_SOUNDS, seed=1000 + seed,
                                    sample_rate=audio["sample_rate"],
                                    duration=audio["length"] / audio["sample_rate"]))
    mels, texts = [], []
    chunk: list[torch.Tensor] = []
    for i in progress_bar(range(len(ds)), desc="tiny-clap: rendering sounds", enabled=progress):
        s = ds[i]
        chunk.append(s.audio)
        texts.append(list(s.texts) + prompt_texts(ds, i))
        if len(chunk) == 500 or i == len(ds) - 1:
            with torch.no_grad():
                mels.append(net.audio.features(torch.stack(chunk)))
            chunk = []
    mel = torch.cat(mels)
    tokens = tokenizer([t for ts in texts for t in ts]).view(len(ds), len(texts[0]), -1)
    opt = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=0.05)
    g = torch.Generator().manual_seed(seed)
    net.train()
    bar = progress_bar(range(STEPS), desc="tiny-clap: training", unit="step", enabled=progress)
    loss_value = math.nan
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, STEPS, LR, WARMUP)
        idx = torch.randint(0, len(ds), (BATCH,), generator=g)
        text = pick_captions(tokens, idx, ds.params.captions_per_sample, g)
        loss = info_nce(net.audio.forward_features(mel[idx]), net.text(text),
                        net.logit_scale.exp())
        loss_value = optimizer_step(opt, loss, net.logit_scale)
        bar.set_postfix(loss=f"{loss_value:.3f}", refresh=False)
    trained = save_trained(net, tokens, seed, out_dir / CHECKPOINT)
    return {"steps": STEPS, "batch": BATCH, "train_sounds": TRAIN_SOUNDS,
            "final_loss": round(loss_value, 4), "trained_tokens": trained,
            "checkpoint": CHECKPOINT}


class TinyCLAP(TinyCLAPDeclared, Trainable, nn.Module):
    """The tiny audio-text model (packaged, or trained on first use) as a VLModel: ``[B, T]``
    waveforms in [-1, 1] at 8 kHz (padded with silence or cropped to one second inside the
    forward) and texts in, L2-normalized embeddings out. Trainable: the ``audio`` tower is
    ``net.audio``, the checkpoint the state dict of ``net``."""

    audio_prefixes = ("net.audio.",)
    image_prefixes: ClassVar[tuple[str, ...]] = ()
    scale_names = ("net.logit_scale",)
    checkpoint_file = CHECKPOINT
    #: the architecture config and the network it builds (a model with more towers sets its own)
    config: ClassVar[Path] = CONFIG
    network: ClassVar[type[nn.Module]] = TinyCLAPNet

    def __init__(self, params: TinyCLAPParams | None = None, *, load: bool = True) -> None:
        super().__init__()
        self.params = params or TinyCLAPParams()
        cfg = json.loads(self.config.read_text())
        audio = cfg["audio_cfg"]
        self.input_specs: dict[str, Any] = {
            "audio": AudioSpec(audio["sample_rate"], audio["length"])}
        self.net = self.network(cfg)
        self.tokenizer = _tokenizer(cfg)
        if load:
            from . import ensure

            self.load_checkpoint(self.params.pretrained or ensure(
                self.zoo_name, seed=self.params.seed) / self.checkpoint_file)
            self.eval()

    def checkpoint_module(self) -> nn.Module:
        return self.net

    def checkpoint_ref(self, path: Path) -> dict[str, Any]:
        return {"name": f"zoo/{self.zoo_name}", "params": {"pretrained": str(path)}}

    @property
    def logit_scale(self) -> float:
        return float(self.net.logit_scale.detach().exp())

    def encode_audio(self, waveforms: torch.Tensor) -> torch.Tensor:
        length = self.net.audio.length
        x = waveforms[:, :length]
        if x.shape[1] < length:
            x = F.pad(x, (0, length - x.shape[1]))
        return F.normalize(self.net.audio(x), dim=-1)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        device = self.net.logit_scale.device
        return F.normalize(self.net.text(self.tokenizer(list(texts)).to(device)), dim=-1)


def load(seed: int = 0) -> TinyCLAP:
    """The tiny CLAP of training seed ``seed`` (built on first use)."""
    return TinyCLAP(TinyCLAPParams(seed=seed))
