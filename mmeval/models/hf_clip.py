"""Hugging Face transformers CLIP (Radford et al., ICML 2021) and SigLIP (Zhai et al., "Sigmoid Loss
for Language Image Pre-Training", ICCV 2023) as VLModels, from a model id (weights already in the
local HF cache) or a local directory. Image size, mean and std come from the model's image
processor config (``preprocessor_config.json``) when present, else from the vision config and
the processor's defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import MissingDependencyError, ModelLoadError
from ..protocols import ImageSpec
from .declared import HFDeclared, HFParams
from .trainable import Trainable


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as exc:
        raise MissingDependencyError(f"hf/ models need transformers ({exc})") from exc
    return transformers


class PretrainedDirectory(Trainable):
    """Checkpoints as a transformers model directory: the model's ``save_pretrained`` (safetensors)
    beside its tokenizer's and whatever else :meth:`saved_with` names; loaded back from the
    directory or its weights file."""

    model: Any
    tokenizer: Any
    checkpoint_file = "model.safetensors"

    def saved_with(self) -> list[Any]:
        """What else is saved into the directory (objects with ``save_pretrained``)."""
        return [self.tokenizer]

    def save_checkpoint(self, directory: str | Path) -> dict[str, Any]:
        out = Path(directory) / "hf"
        self.model.save_pretrained(out, safe_serialization=True)
        for part in self.saved_with():
            part.save_pretrained(out)
        return self.checkpoint_ref(out)

    def load_checkpoint(self, path: str | Path) -> None:
        path = Path(path)
        super().load_checkpoint(path / self.checkpoint_file if path.is_dir() else path)

    def checkpoint_module(self) -> nn.Module:
        return self.model


class HFDualEncoder(HFDeclared, PretrainedDirectory, nn.Module):
    """Shared adapter for transformers dual encoders: [0, 1] images in; resize + normalize inside."""

    model_class: ClassVar[str]
    processor_class: ClassVar[str]
    default_mean: ClassVar[tuple[float, float, float]]
    default_std: ClassVar[tuple[float, float, float]]
    padding: ClassVar[str | bool] = True
    registry_name: ClassVar[str]
    image_prefixes = ("model.vision_model.", "model.visual_projection.")
    scale_names = ("model.logit_scale", "model.logit_bias")

    def __init__(self, params: HFParams) -> None:
        super().__init__()
        tf = _transformers()
        self.params = p = params
        try:
            self.model = getattr(tf, self.model_class).from_pretrained(p.model, revision=p.revision)
            self.tokenizer = tf.AutoTokenizer.from_pretrained(p.tokenizer or p.model,
                                                              revision=p.revision)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(
                f"cannot load '{p.model}' as {self.model_class}: {exc}. Offline, pass a local "
                f"directory (save_pretrained) or pre-populate the HF cache") from exc
        try:
            proc = getattr(tf, self.processor_class).from_pretrained(p.model)
        except OSError:
            proc = None
        self._adopt(proc)

    @staticmethod
    def wrap(model: nn.Module, processor: Any, *, image_size: int | None = None) -> HFDualEncoder:
        """A VLModel around a transformers ``CLIPModel`` or ``SiglipModel`` already in memory and
        its processor (``AutoProcessor``: tokenizer and image processor)."""
        kinds = {c.model_class: c for c in (HFCLIP, HFSigLIP)}
        cls = kinds.get(type(model).__name__)
        if cls is None:
            raise ModelLoadError(f"wrap_hf takes a {' or '.join(kinds)}, not "
                                 f"{type(model).__name__}")
        self = cls.__new__(cls)
        super(HFDualEncoder, self).__init__()
        self.params = HFParams(model="in-memory", image_size=image_size)
        self.model, self.tokenizer = model, processor.tokenizer
        self._adopt(processor.image_processor)
        return self

    def _adopt(self, proc: Any) -> None:
        """Resolution, mean and std from the image processor ``proc`` (None: the defaults)."""
        default = self.model.config.vision_config.image_size
        if proc is None:
            mean, std, size = self.default_mean, self.default_std, default
        else:
            size = proc.size.get("shortest_edge") or proc.size.get("height") or default
            mean, std = tuple(proc.image_mean), tuple(proc.image_std)
        self.model_size = (int(size), int(size))
        p = self.params
        attack = (p.image_size, p.image_size) if p.image_size else self.model_size
        self.input_specs = {"image": ImageSpec(attack, mean, std)}
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.max_length = getattr(self.model.config.text_config, "max_position_embeddings", 77)

    @property
    def logit_scale(self) -> torch.Tensor:
        return self.model.logit_scale.detach().exp()

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        if tuple(images.shape[-2:]) != self.model_size:
            images = F.interpolate(images, size=self.model_size, mode="bicubic", align_corners=False)
        return (images - self.mean) / self.std

    def encode_image(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        feats = self.model.get_image_features(pixel_values=self.preprocess(images))
        return F.normalize(feats, dim=-1) if normalize else feats

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        tokens = self.tokenizer(list(texts), padding=self.padding, truncation=True,
                                max_length=self.max_length, return_tensors="pt").to(self.mean.device)
        feats = self.model.get_text_features(input_ids=tokens["input_ids"],
                                             attention_mask=tokens.get("attention_mask"))
        return F.normalize(feats, dim=-1)

    def checkpoint_ref(self, path: Path) -> dict[str, Any]:
        params: dict[str, Any] = {"model": str(path)}
        if self.params.image_size:
            params["image_size"] = self.params.image_size
        return {"name": self.registry_name, "params": params}


class HFCLIP(HFDualEncoder):
    """transformers ``CLIPModel``."""

    registry_name = "hf/clip"
    model_class = "CLIPModel"
    processor_class = "CLIPImageProcessor"
    default_mean = (0.48145466, 0.4578275, 0.40821073)
    default_std = (0.26862954, 0.26130258, 0.27577711)


class HFSigLIP(HFDualEncoder):
    """transformers ``SiglipModel`` (pads text to max length, as SigLIP was trained)."""

    registry_name = "hf/siglip"
    model_class = "SiglipModel"
    processor_class = "SiglipImageProcessor"
    default_mean = (0.5, 0.5, 0.5)
    default_std = (0.5, 0.5, 0.5)
    padding = "max_length"
