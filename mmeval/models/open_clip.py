"""open_clip models as VLModels: ``openclip/<arch>`` with ``pretrained=`` an open_clip tag (weights
already in the local cache) or a local checkpoint file (safetensors, or a torch file loaded with
``weights_only=True``). Image size, mean and std come from open_clip's own preprocess config.

Ilharco et al., "OpenCLIP", 2021 (https://github.com/mlfoundations/open_clip).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import MissingDependencyError, ModelLoadError
from ..protocols import ImageSpec
from .declared import CONFIG_DIR, OpenCLIPDeclared, OpenCLIPParams, is_path
from .trainable import Trainable


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


def check_cached(arch: str, tag: str, cache_dir: str | None) -> None:
    """ModelLoadError unless open_clip knows ``tag`` for ``arch`` and its weights are cached
    (Hugging Face hub cache, or open_clip's URL cache), without touching the network."""
    from open_clip import pretrained as op

    import_open_clip()
    cfg = op.get_pretrained_cfg(arch, tag)
    if not cfg:
        tags = op.list_pretrained_tags_by_model(arch)
        raise ModelLoadError(f"open_clip has no weights '{tag}' for {arch} (its tags: "
                             f"{', '.join(tags) or 'none'}); or pass a local checkpoint path")
    looked = []
    if cfg.get("file"):
        looked.append(cfg["file"])
        if Path(cfg["file"]).is_file():
            return
    if cfg.get("hf_hub"):
        from huggingface_hub import try_to_load_from_cache

        repo, name = os.path.split(cfg["hf_hub"])
        files = list(dict.fromkeys([name or op.HF_WEIGHTS_NAME, "open_clip_model.safetensors",
                                    Path(name or op.HF_WEIGHTS_NAME).with_suffix(".safetensors").name]))
        looked.append(f"{repo} ({', '.join(files)}) in the Hugging Face cache")
        if any(isinstance(try_to_load_from_cache(repo, f, cache_dir=cache_dir), str) for f in files):
            return
    if cfg.get("url"):
        file = Path(cache_dir or "~/.cache/clip").expanduser() / os.path.basename(cfg["url"])
        looked.append(str(file))
        if file.is_file():
            return
    raise ModelLoadError(f"the weights of openclip/{arch} '{tag}' are not in the local cache "
                         f"(looked for {'; '.join(looked)}); downloads are not possible offline: "
                         "fetch them on a connected machine or pass a local checkpoint path")


def check_shapes(arch: str, path: Path) -> None:
    """ModelLoadError unless the safetensors checkpoint at ``path`` fits ``arch`` (torch files
    are checked when loaded)."""
    if path.suffix != ".safetensors":
        return
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as f:
            names = f.keys()  # a safetensors handle is not iterable
            shapes = {k.removeprefix("module."): tuple(f.get_slice(k).get_shape()) for k in names}
    except Exception as exc:  # safetensors raises its own error types for a corrupt header
        raise ModelLoadError(f"cannot read checkpoint '{path}': {exc}") from None
    with torch.device("meta"):
        model = import_open_clip().create_model(arch, device="meta")
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    common = sorted(expected.keys() & shapes.keys())
    wrong = [k for k in common if expected[k] != shapes[k]]
    if not common:
        raise ModelLoadError(f"checkpoint '{path}' holds none of openclip/{arch}'s tensors; pass "
                             "the architecture it was saved from")
    if wrong:
        k = wrong[0]
        raise ModelLoadError(f"checkpoint '{path}' does not fit openclip/{arch}: {len(wrong)} "
                             f"tensor(s) differ in shape (e.g. {k}: {list(shapes[k])} in the file, "
                             f"{list(expected[k])} in the architecture); pass the architecture it "
                             "was saved from")


class OpenCLIPModel(OpenCLIPDeclared, Trainable, nn.Module):
    """A VLModel around an open_clip CLIP: [0, 1] images in, resize + normalize inside forward."""

    image_prefixes = ("model.visual.",)
    scale_names = ("model.logit_scale", "model.logit_bias")
    checkpoint_file = "open_clip_model.safetensors"

    def __init__(self, params: OpenCLIPParams | None = None, *, variant: str) -> None:
        super().__init__()
        open_clip = import_open_clip()
        p = params or OpenCLIPParams()
        self.params, self.arch = p, variant
        pretrained = p.pretrained
        if is_path(pretrained) and not Path(str(pretrained)).is_file():
            raise ModelLoadError(f"checkpoint '{pretrained}' for openclip/{variant} does not exist")
        if pretrained and not is_path(pretrained):  # before minutes of random init, not after
            check_cached(variant, pretrained, p.cache_dir)
        try:
            self.model = open_clip.create_model(variant, pretrained=pretrained, cache_dir=p.cache_dir,
                                                weights_only=True, require_pretrained=bool(pretrained))
        except Exception as exc:  # open_clip raises RuntimeError/ValueError/HF errors
            hint = ("check that it was saved from this architecture" if is_path(pretrained) else
                    "downloads are not possible offline: pass a local checkpoint path or put the "
                    "weights in cache_dir")
            detail = " ".join(str(exc).split())  # torch lists size mismatches over many lines
            raise ModelLoadError(
                f"cannot load openclip/{variant} with pretrained={pretrained!r}: "
                f"{type(exc).__name__}: {detail}; {hint}") from exc
        self._adopt(open_clip.get_tokenizer(variant))

    @classmethod
    def wrap(cls, model: nn.Module, tokenizer: Any, *, image_size: int | None = None,
             interpolation: str | None = None) -> OpenCLIPModel:
        """A VLModel around an open_clip model already in memory (``open_clip.create_model``'s,
        fine-tuned in your own code) and its tokenizer; the image size, mean and std come from
        the model's preprocess config."""
        self = cls.__new__(cls)
        super(OpenCLIPModel, self).__init__()
        self.params = OpenCLIPParams(image_size=image_size, interpolation=interpolation)
        self.arch, self.model = "in-memory", model
        self._adopt(tokenizer)
        return self

    def _adopt(self, tokenizer: Any) -> None:
        """Read resolution, mean and std from ``self.model``'s preprocess config."""
        p, self.tokenizer = self.params, tokenizer
        cfg = self.model.visual.preprocess_cfg
        size = cfg["size"]
        self.model_size = (size, size) if isinstance(size, int) else tuple(size)
        attack_size = (p.image_size, p.image_size) if p.image_size else self.model_size
        self.interpolation = p.interpolation or cfg.get("interpolation", "bicubic")
        self.input_specs = {"image": ImageSpec(attack_size, tuple(cfg["mean"]), tuple(cfg["std"]))}
        self.register_buffer("mean", torch.tensor(cfg["mean"]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(cfg["std"]).view(1, 3, 1, 1), persistent=False)

    @property
    def logit_scale(self) -> torch.Tensor:
        return self.model.logit_scale.detach().exp()

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
