"""``zoo/tiny-clip-shapes``: a small open_clip CLIP trained contrastively from scratch on shapes.

Architecture (``zoo/configs/mmeval-tiny-clip.json``): a ModifiedResNet image tower (layers
[1, 1, 1, 1], width 16) at 48 px and a 3-layer, width-128 text transformer with open_clip's BPE
tokenizer, 128-d joint space. A ViT at 32 px learned colour but barely shape in the same time; the
convolutional tower at 48 px learns shape, colour, size and position in ~4 minutes on 2 CPU cores.

Training data: 20k shapes images (dataset seeds 1000 + seed, disjoint from evaluation seeds < 1000)
paired with their five captions and, 30% of the time, a prompt-style partial description ("this is
a photo of a red circle"), so zero-shot prompts fall inside the text distribution, as web
captions do for CLIP. Symmetric InfoNCE (Radford et al., ICML 2021), AdamW, warm-up + cosine.

After training, the rows of the token embedding that no training text uses (about 49k of the BPE
vocabulary's 49,408; never trained) are redrawn as random signs times open_clip's init std 0.02:
still distinct, so out-of-domain words do not collapse onto one embedding, but a few bits per value,
so the packaged checkpoint compresses from 33 MB to about 9 MB (the embedding is three quarters of
the parameters). In-domain text is encoded exactly as it would be without this.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..data.shapes import ShapesDataset, ShapesParams
from ..models.open_clip import OpenCLIPModel, OpenCLIPParams, import_open_clip
from ..progress import progress as progress_bar
from .declared import TinyCLIPDeclared, TinyCLIPParams

ARCH = "mmeval-tiny-clip"
IMAGE_SIZE = 48
TRAIN_IMAGES = 20_000
STEPS = 900
BATCH = 128
LR = 2e-3
WARMUP = 100
PROMPT_SHARE = 0.3
#: open_clip's init std of the token embedding: the scale of the untrained rows' random signs
TOKEN_INIT_STD = 0.02
CHECKPOINT = "open_clip_model.safetensors"


def prompt_texts(ds: ShapesDataset, index: int) -> list[str]:
    """Prompt-style partial descriptions of sample ``index``."""
    a = ds.attributes(index)
    return [f"this is a photo of a {a.shape}", f"this is a photo of a {a.color} {a.shape}",
            f"this is a photo of a {a.size} {a.color} {a.shape}",
            f"this is a photo of a {a.color} {a.shape} in the {a.position}"]


def _render(ds: ShapesDataset, progress: bool) -> tuple[torch.Tensor, list[list[str]]]:
    images = torch.empty(len(ds), 3, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8)
    texts = []
    for i in progress_bar(range(len(ds)), desc="tiny-clip: rendering shapes", enabled=progress):
        s = ds[i]
        images[i] = (s.image * 255).round().to(torch.uint8)
        texts.append(list(s.texts) + prompt_texts(ds, i))
    return images, texts


def build(out_dir: Path, seed: int, progress: bool = True) -> dict[str, Any]:
    """Train the tiny CLIP and save it as an open_clip safetensors checkpoint in ``out_dir``."""
    from safetensors.torch import save_file

    open_clip = import_open_clip()
    torch.manual_seed(seed)
    model = open_clip.create_model(ARCH)
    tokenizer = open_clip.get_tokenizer(ARCH)
    ds = ShapesDataset(ShapesParams(n=TRAIN_IMAGES, seed=1000 + seed, image_size=IMAGE_SIZE))
    images, texts = _render(ds, progress)
    n_caps = len(texts[0])
    n_full = ds.params.captions_per_image
    tokens = tokenizer([t for ts in texts for t in ts]).view(len(ds), n_caps, -1)
    cfg = model.visual.preprocess_cfg
    mean = torch.tensor(cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(cfg["std"]).view(1, 3, 1, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.05)
    g = torch.Generator().manual_seed(seed)
    model.train()
    bar = progress_bar(range(STEPS), desc="tiny-clip: training", unit="step", enabled=progress)
    loss_value = math.nan
    for step in bar:
        lr = LR * min(1.0, (step + 1) / WARMUP) * 0.5 * (1 + math.cos(math.pi * step / STEPS))
        for group in opt.param_groups:
            group["lr"] = lr
        idx = torch.randint(0, len(ds), (BATCH,), generator=g)
        full = torch.randint(0, n_full, (BATCH,), generator=g)
        prompt = torch.randint(n_full, n_caps, (BATCH,), generator=g)
        which = torch.where(torch.rand(BATCH, generator=g) < PROMPT_SHARE, prompt, full)
        x = (images[idx].float() / 255 - mean) / std
        fi = model.encode_image(x, normalize=True)
        ft = model.encode_text(tokens[idx, which], normalize=True)
        logits = model.logit_scale.exp() * fi @ ft.T
        target = torch.arange(BATCH)
        loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        loss_value = loss.item()
        rate = (bar.format_dict["rate"] or 0) * BATCH
        bar.set_postfix(loss=f"{loss_value:.3f}", samples_s=f"{rate:.0f}", refresh=False)
    model.eval()
    untrained = torch.ones(model.token_embedding.num_embeddings, dtype=torch.bool)
    untrained[tokens.unique()] = False
    signs = torch.randint(0, 2, (int(untrained.sum()), model.token_embedding.embedding_dim),
                          generator=torch.Generator().manual_seed(seed)) * 2 - 1
    with torch.no_grad():
        model.token_embedding.weight[untrained] = TOKEN_INIT_STD * signs.float()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out_dir / CHECKPOINT)
    return {"arch": ARCH, "steps": STEPS, "batch": BATCH, "train_images": TRAIN_IMAGES,
            "final_loss": round(loss_value, 4), "trained_tokens": int((~untrained).sum()),
            "checkpoint": CHECKPOINT}


class TinyCLIP(TinyCLIPDeclared, OpenCLIPModel):
    """The tiny CLIP (packaged, or trained on first use), loaded through the open_clip adapter
    like any user checkpoint."""

    def __init__(self, params: TinyCLIPParams | None = None) -> None:
        from . import ensure

        p = params or TinyCLIPParams()
        path = ensure("tiny-clip-shapes", seed=p.seed)
        super().__init__(OpenCLIPParams(pretrained=str(path / CHECKPOINT), image_size=p.image_size),
                         variant=ARCH)


def load(seed: int = 0) -> TinyCLIP:
    """The tiny CLIP of training seed ``seed`` (built on first use)."""
    return TinyCLIP(TinyCLIPParams(seed=seed))
