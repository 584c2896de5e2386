"""``zoo/tiny-trimodal-shapes`` and its control ``zoo/tiny-imagetext-shapes``: image, audio and
text towers trained jointly from scratch, each signal aligned to the text (as ImageBind aligns
every modality to one anchor: Girdhar et al., "ImageBind: One Embedding Space To Bind Them All",
CVPR 2023; here the anchor is the caption), and the same model trained identically without the
audio term.

Both see the same data budget: ``TRAIN_SCENES`` scenes of the shapes world (dataset seeds 1000 +
seed, disjoint from evaluation seeds < 1000), ``STEPS`` steps of ``BATCH`` scenes, each scene
paired with the same caption draw (:func:`~mmeval.zoo.contrastive.pick_captions`); the tri-modal
model also hears each scene (the sounds world) and adds the audio-text InfoNCE to the image-text
one. Same initialization (the control's audio tower is initialized too, then never trained),
same optimizer and schedule: the only difference is the audio term, which is what the seed
question of Lai ("Relieve Adversarial Attacks Based on Multimodal Training") asks about.

Architecture (``zoo/configs/mmeval-tiny-trimodal.json``): the tiny CLIP's towers (open_clip's
ModifiedResNet at 48 px, width 16; its 3-layer text transformer and BPE tokenizer) and the tiny
CLAP's audio tower, 128-d joint space.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data.shapes import ShapesDataset, ShapesParams
from ..data.sounds import SoundsDataset, SoundsParams
from ..models.open_clip import import_open_clip
from ..progress import progress as progress_bar
from ..protocols import ImageSpec
from .contrastive import info_nce, learning_rate, optimizer_step, pick_captions, save_trained
from .declared import TinyImageTextDeclared, TinyTriModalDeclared, TinyTriModalParams
from .tiny_clap import AudioTower, TinyCLAP

CONFIG = Path(__file__).parent / "configs" / "mmeval-tiny-trimodal.json"
TRAIN_SCENES = 10_000
STEPS = 500
BATCH = 128
LR = 2e-3
WARMUP = 50
CHECKPOINT = "tiny_trimodal.safetensors"


def _config() -> dict[str, Any]:
    return json.loads(CONFIG.read_text())


class TriModalNet(nn.Module):
    """The three towers and the logit scale (the checkpoint's state dict)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        import_open_clip()
        from open_clip.modified_resnet import ModifiedResNet
        from open_clip.transformer import TextTransformer

        image = cfg["image_cfg"]
        self.visual = ModifiedResNet(image["layers"], cfg["embed_dim"], image["heads"],
                                     image["image_size"], image["width"])
        self.audio = AudioTower(cfg["embed_dim"], **cfg["audio_cfg"])
        self.text = TextTransformer(output_dim=cfg["embed_dim"], **cfg["text_cfg"])
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))


def _scene_texts(ds: ShapesDataset, index: int) -> list[str]:
    """A scene's captions and its prompt-style partial descriptions, of a photo and of a sound."""
    a = ds.attributes(index)
    return [*ds[index].texts,
            f"this is a photo of a {a.shape}", f"this is a photo of a {a.color} {a.shape}",
            f"this is the sound of a {a.shape}", f"this is the sound of a {a.color} {a.shape}"]


def _build(out_dir: Path, seed: int, progress: bool, audio: bool) -> dict[str, Any]:
    cfg = _config()
    torch.manual_seed(seed)
    net = TriModalNet(cfg)
    tokenizer = import_open_clip().SimpleTokenizer(
        context_length=cfg["text_cfg"]["context_length"])
    size = cfg["image_cfg"]["image_size"]
    shapes = ShapesDataset(ShapesParams(n=TRAIN_SCENES, seed=1000 + seed, image_size=size))
    sounds = SoundsDataset(SoundsParams(n=TRAIN_SCENES, seed=1000 + seed))
    name = "tiny-trimodal" if audio else "tiny-imagetext"
    images = torch.empty(len(shapes), 3, size, size, dtype=torch.uint8)
    texts, mels, chunk = [], [], []
    for i in progress_bar(range(len(shapes)), desc=f"{name}: rendering", enabled=progress):
        images[i] = (shapes[i].image * 255).round().to(torch.uint8)
        texts.append(_scene_texts(shapes, i))
        if audio:
            chunk.append(sounds[i].audio)
            if len(chunk) == 500 or i == len(shapes) - 1:
                with torch.no_grad():
                    mels.append(net.audio.features(torch.stack(chunk)))
                chunk = []
    mel = torch.cat(mels) if audio else None
    tokens = tokenizer([t for ts in texts for t in ts]).view(len(shapes), len(texts[0]), -1)
    mean = torch.tensor(TinyTriModal.MEAN).view(1, 3, 1, 1)
    std = torch.tensor(TinyTriModal.STD).view(1, 3, 1, 1)
    trained = [p for n, p in net.named_parameters() if audio or not n.startswith("audio.")]
    opt = torch.optim.AdamW(trained, lr=LR, weight_decay=0.05)
    g = torch.Generator().manual_seed(seed)
    net.train()
    bar = progress_bar(range(STEPS), desc=f"{name}: training", unit="step", enabled=progress)
    loss_value = math.nan
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, STEPS, LR, WARMUP)
        idx = torch.randint(0, len(shapes), (BATCH,), generator=g)
        text = net.text(pick_captions(tokens, idx, shapes.params.captions_per_image, g))
        scale = net.logit_scale.exp()
        loss = info_nce(net.visual((images[idx].float() / 255 - mean) / std), text, scale)
        if mel is not None:
            loss = loss + info_nce(net.audio.forward_features(mel[idx]), text, scale)
        loss_value = optimizer_step(opt, loss, net.logit_scale)
        bar.set_postfix(loss=f"{loss_value:.3f}", refresh=False)
    used = save_trained(net, tokens, seed, out_dir / CHECKPOINT)
    return {"steps": STEPS, "batch": BATCH, "train_scenes": TRAIN_SCENES, "audio": audio,
            "final_loss": round(loss_value, 4), "trained_tokens": used,
            "checkpoint": CHECKPOINT}


def build_trimodal(out_dir: Path, seed: int, progress: bool = True) -> dict[str, Any]:
    """Train the tri-modal model (image-text and audio-text InfoNCE) into ``out_dir``."""
    return _build(out_dir, seed, progress, audio=True)


def build_imagetext(out_dir: Path, seed: int, progress: bool = True) -> dict[str, Any]:
    """Train the control (image-text InfoNCE only, same budget) into ``out_dir``."""
    return _build(out_dir, seed, progress, audio=False)


class TinyTriModal(TinyTriModalDeclared, TinyCLAP):
    """The tri-modal model as a VLModel: [0, 1] images (resized to 48 px and normalized inside),
    [-1, 1] waveforms at 8 kHz and texts in, L2-normalized embeddings out (the audio and text
    sides, the logit scale and the checkpoint handling are the tiny CLAP's)."""

    MEAN = (0.48145466, 0.4578275, 0.40821073)  # open_clip's OpenAI mean and std
    STD = (0.26862954, 0.26130258, 0.27577711)
    image_prefixes = ("net.visual.",)
    checkpoint_file = CHECKPOINT
    config = CONFIG
    network = TriModalNet

    def __init__(self, params: TinyTriModalParams | None = None, *, load: bool = True) -> None:
        super().__init__(params, load=load)
        size = _config()["image_cfg"]["image_size"]
        self.image_size = (size, size)
        self.input_specs["image"] = ImageSpec(self.image_size, self.MEAN, self.STD)
        self.register_buffer("mean", torch.tensor(self.MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(self.STD).view(1, 3, 1, 1), persistent=False)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        if tuple(images.shape[-2:]) != self.image_size:
            images = F.interpolate(images, size=self.image_size, mode="bicubic",
                                   align_corners=False)
        return F.normalize(self.net.visual((images - self.mean) / self.std), dim=-1)


class TinyImageText(TinyImageTextDeclared, TinyTriModal):
    """The control: the same architecture trained without the audio term (its audio tower is
    untrained, so it declares no audio capability)."""


def load_trimodal(seed: int = 0) -> TinyTriModal:
    return TinyTriModal(TinyTriModalParams(seed=seed))


def load_imagetext(seed: int = 0) -> TinyImageText:
    return TinyImageText(TinyTriModalParams(seed=seed))
