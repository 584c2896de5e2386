"""What the zoo's models declare, readable without torch: their params and capabilities (the
models in ``tiny_clip``, ``tiny_clap`` and ``tiny_classifier`` subclass these declarations)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


class TinyCLAPParams(Params):
    seed: int = Field(default=0, ge=0, description="training seed (different seeds: different models)")
    pretrained: str | None = Field(
        default=None, json_schema_extra=INPUT, description="a safetensors file of this "
        "architecture to load instead (what `mmeval train` writes); None: the zoo's weights")


class TinyCLAPDeclared:
    """Tiny audio-text model (CLAP-style) trained offline on the sounds world (seed 0 ships with
    the package)."""

    Params = TinyCLAPParams
    capabilities = frozenset({"audio", "text"})

    @staticmethod
    def inputs(params: TinyCLAPParams) -> dict[str, str]:
        """The recipe the weights come from: part of every cell id (a checkpoint is
        fingerprinted by its content instead)."""
        return {} if params.pretrained else {"zoo": recipe("tiny-clap-shapes")["hash"]}

    @staticmethod
    def preflight(params: TinyCLAPParams) -> None:
        if params.pretrained and not Path(params.pretrained).expanduser().is_file():
            raise ModelLoadError(f"checkpoint '{params.pretrained}' is not a file; pass the "
                                 "safetensors file `mmeval train` wrote")
