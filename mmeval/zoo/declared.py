"""What the zoo's models declare, readable without torch: their params and capabilities (the
models in ``tiny_clip``, ``tiny_clap`` and ``tiny_classifier`` subclass these declarations)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from ..errors import ModelLoadError
from ..registry import INPUT, Params
from . import recipe


class TinyCLIPParams(Params):
    seed: int = Field(default=0, ge=0, description="training seed (different seeds: different models)")
    image_size: int | None = Field(default=None, ge=8, description="attack resolution; default 48")


class TinyCLIPDeclared:
    """Tiny open_clip CLIP trained offline on shapes (seed 0 ships with the package)."""

    Params = TinyCLIPParams
    capabilities = frozenset({"image", "text"})
    preflight = None  # nothing to check: the zoo trains a missing seed on first use

    @staticmethod
    def inputs(params: TinyCLIPParams) -> dict[str, str]:
        """The recipe the weights come from: part of every cell id (another recipe, new cells)."""
        return {"zoo": recipe("tiny-clip-shapes")["hash"]}


class TinyClassifierParams(Params):
    seed: int = Field(default=0, ge=0, description="training seed")


class TinyClassifierDeclared:
    """CNN image classifier of the 10 shapes (no text side; seed 0 ships with the package)."""

    Params = TinyClassifierParams
    capabilities = frozenset({"image"})
    input_spec: Any

    @property
    def input_specs(self) -> dict[str, Any]:
        """Its one input spec, for images (the classifier sets ``input_spec``)."""
        return {"image": self.input_spec}

    @staticmethod
    def inputs(params: TinyClassifierParams) -> dict[str, str]:
        """The recipe the weights come from: part of every cell id."""
        return {"zoo": recipe("tiny-classifier-shapes")["hash"]}


class PretrainedParams(Params):
    seed: int = Field(default=0, ge=0, description="training seed (different seeds: different models)")
    pretrained: str | None = Field(
        default=None, json_schema_extra=INPUT, description="a safetensors file of this "
        "architecture to load instead (what `mmeval train` writes); None: the zoo's weights")


TinyCLAPParams = TinyTriModalParams = PretrainedParams


class ZooModelDeclared:
    """A zoo model that can also load a checkpoint of its architecture (``pretrained``)."""

    Params = PretrainedParams
    zoo_name: ClassVar[str]

    @classmethod
    def inputs(cls, params: PretrainedParams) -> dict[str, str]:
        """The recipe the weights come from: part of every cell id (a checkpoint is
        fingerprinted by its content instead)."""
        return {} if params.pretrained else {"zoo": recipe(cls.zoo_name)["hash"]}

    @staticmethod
    def preflight(params: PretrainedParams) -> None:
        if params.pretrained and not Path(params.pretrained).expanduser().is_file():
            raise ModelLoadError(f"checkpoint '{params.pretrained}' is not a file; pass the "
                                 "safetensors file `mmeval train` wrote")


class TinyCLAPDeclared(ZooModelDeclared):
    """Tiny audio-text model (CLAP-style) trained offline on the sounds world (seed 0 ships with
    the package)."""

    zoo_name = "tiny-clap-shapes"
    capabilities = frozenset({"audio", "text"})


class TinyTriModalDeclared(ZooModelDeclared):
    """Tiny image-audio-text model, each signal aligned to the captions (ImageBind-style), trained
    offline on the shapes world seen and heard (seed 0 ships with the package)."""

    zoo_name = "tiny-trimodal-shapes"
    capabilities = frozenset({"image", "audio", "text"})


class TinyImageTextDeclared(ZooModelDeclared):
    """The tri-modal model's control: the same architecture and budget trained on image-text
    pairs only (trained on first use)."""

    zoo_name = "tiny-imagetext-shapes"
    capabilities = frozenset({"image", "text"})
