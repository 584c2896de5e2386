"""open_clip models as VLModels: ``openclip/<arch>`` with ``pretrained=`` an open_clip tag (weights
already in the local cache) or a local checkpoint file (safetensors, or a torch file loaded with
``weights_only=True``). Image size, mean and std come from open_clip's own preprocess config.

Ilharco et al., "OpenCLIP", 2021 (https://github.com/mlfoundations/open_clip).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator
from torch import nn

from ..errors import MissingDependencyError, ModelLoadError
from ..protocols import InputSpec
from ..registry import INPUT, Params
from .trainable import Trainable, check_checkpoint

CONFIG_DIR = Path(__file__).resolve().parent.parent / "zoo" / "configs"


def import_open_clip() -> Any:
    """Import open_clip with mmeval's own model configs (the zoo architectures) registered."""
    try:
        import open_clip
    except ImportError as exc:
        raise MissingDependencyError(f"open_clip models need open_clip_torch ({exc}); "
                                     "install it with ./install.sh") from exc
    if not any(Path(p) == CONFIG_DIR for p in open_clip.factory._MODEL_CONFIG_PATHS):
        open_clip.add_model_config(CONFIG_DIR)
    return open_clip


class OpenCLIPParams(Params):
    pretrained: str | None = Field(
        default=None, description="open_clip tag (e.g. 'openai', needs the weights in the local "
        "cache) or a local checkpoint path; None = random init", json_schema_extra=INPUT)
    cache_dir: str | None = Field(default=None, description="where open_clip looks for tagged weights")
    image_size: int | None = Field(
        default=None, ge=8, description="resolution attacks work at (images are resized to the model's "
        "own inside the forward); default: the model's")
    interpolation: str | None = Field(default=None, description="resize mode; default: open_clip's")

    @field_validator("pretrained")
    @classmethod
    def _readable(cls, v: str | None) -> str | None:
        return check_checkpoint(v) if v and (Path(v).suffix or "/" in v) else v


class OpenCLIPModel(Trainable, nn.Module):
    """A VLModel around an open_clip CLIP: [0, 1] images in, resize + normalize inside forward."""

    Params = OpenCLIPParams
    capabilities = frozenset({"image", "text"})
    image_prefixes = ("model.visual.",)
    scale_names = ("model.logit_scale", "model.logit_bias")
    checkpoint_file = "open_clip_model.safetensors"

    def __init__(self, params: OpenCLIPParams | None = None, *, variant: str) -> None:
        super().__init__()
        open_clip = import_open_clip()
        p = params or OpenCLIPParams()
        self.params, self.arch = p, variant
        pretrained = p.pretrained
        if pretrained and (Path(pretrained).suffix or "/" in pretrained) and not Path(pretrained).is_file():
            raise ModelLoadError(f"checkpoint '{pretrained}' for openclip/{variant} does not exist")
        try:
            self.model = open_clip.create_model(variant, pretrained=pretrained, cache_dir=p.cache_dir,
                                                weights_only=True, require_pretrained=bool(pretrained))
        except Exception as exc:  # open_clip raises RuntimeError/ValueError/HF errors
            raise ModelLoadError(
                f"cannot load openclip/{variant} with pretrained={pretrained!r}: "
                f"{type(exc).__name__}: {exc}. Downloads are not possible offline: pass a local "
                f"checkpoint path or put the weights in cache_dir") from exc
        self.tokenizer = open_clip.get_tokenizer(variant)
        cfg = self.model.visual.preprocess_cfg
        size = cfg["size"]
        self.model_size = (size, size) if isinstance(size, int) else tuple(size)
        attack_size = (p.image_size, p.image_size) if p.image_size else self.model_size
        self.interpolation = p.interpolation or cfg.get("interpolation", "bicubic")
        self.input_spec = InputSpec(attack_size, tuple(cfg["mean"]), tuple(cfg["std"]))
        self.register_buffer("mean", torch.tensor(cfg["mean"]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(cfg["std"]).view(1, 3, 1, 1), persistent=False)

    @staticmethod
    def check_variant(arch: str) -> None:
        if arch not in import_open_clip().list_models():
            raise ValueError(f"open_clip has no architecture '{arch}'; see open_clip.list_models()")

    @property
    def logit_scale(self) -> float:
        return float(self.model.logit_scale.detach().exp())

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Differentiable resize to the model's resolution, then normalization."""
        if tuple(images.shape[-2:]) != self.model_size:
            images = F.interpolate(images, size=self.model_size, mode=self.interpolation,
                                   align_corners=False if self.interpolation != "nearest" else None)
        return (images - self.mean) / self.std

    def encode_image(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        return self.model.encode_image(self.preprocess(images), normalize=normalize)

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        return self.tokenizer(list(texts)).to(self.mean.device)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        return self.model.encode_text(self.tokenize(texts), normalize=True)

    def checkpoint_module(self) -> nn.Module:
        return self.model

    def checkpoint_ref(self, path: Path) -> dict[str, Any]:
        params: dict[str, Any] = {"pretrained": str(path)}
        if self.params.image_size:
            params["image_size"] = self.params.image_size
        return {"name": f"openclip/{self.arch}", "params": params}
