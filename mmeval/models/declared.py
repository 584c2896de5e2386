"""What the model adapters declare, readable without torch, open_clip or transformers: their
params, capabilities and plan-time checks. A check that must read a model (a checkpoint's tensor
shapes against the architecture, open_clip's pretrained tags) imports its library when it runs;
the adapters in ``open_clip`` and ``hf_clip`` subclass these declarations."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from pydantic import Field, field_validator

from ..checkpoints import check_checkpoint
from ..errors import ModelLoadError
from ..registry import INPUT, Params

#: mmeval's own open_clip model configs (the zoo architectures)
CONFIG_DIR = Path(__file__).resolve().parent.parent / "zoo" / "configs"


def is_path(pretrained: str | None) -> bool:
    """A checkpoint path rather than an open_clip tag."""
    return bool(pretrained) and (bool(Path(str(pretrained)).suffix) or "/" in str(pretrained))


def architectures() -> set[str]:
    """open_clip's architecture names (what ``open_clip.list_models()`` returns with mmeval's
    configs added: those with a ``vision_cfg``, the others are the zoo's own architectures), read
    from the config files without importing open_clip."""
    spec = importlib.util.find_spec("open_clip")
    dirs = []
    if spec is not None and spec.submodule_search_locations:
        dirs += [Path(p) / "model_configs" for p in spec.submodule_search_locations]
    ours = {f.stem for f in CONFIG_DIR.glob("*.json") if "vision_cfg" in json.loads(f.read_text())}
    return ours | {f.stem for d in dirs for f in d.glob("*.json")}


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
        return check_checkpoint(v) if is_path(v) else v


class OpenCLIPDeclared:
    """Any open_clip architecture, e.g. openclip/ViT-B-32 (a pretrained= tag or a local path)."""

    Params = OpenCLIPParams
    capabilities = frozenset({"image", "text"})

    @classmethod
    def preflight(cls, params: OpenCLIPParams, variant: str) -> None:
        """A tag's weights are in the local cache; a safetensors checkpoint's tensors have the
        architecture's shapes (read from its header against a meta-device model)."""
        if not params.pretrained:
            return
        from .open_clip import check_cached, check_shapes

        if is_path(params.pretrained):
            check_shapes(variant, Path(params.pretrained))
        else:
            check_cached(variant, params.pretrained, params.cache_dir)

    @staticmethod
    def check_variant(arch: str) -> None:
        if arch not in architectures():
            raise ValueError(f"open_clip has no architecture '{arch}'; see open_clip.list_models()")


class HFParams(Params):
    model: str = Field(description="transformers model id (cached locally) or a local directory",
                       json_schema_extra=INPUT)
    tokenizer: str | None = Field(default=None, description="tokenizer id or directory; default: model",
                                  json_schema_extra=INPUT)
    image_size: int | None = Field(default=None, ge=8, description="attack resolution; default: model's")
    revision: str | None = None


#: files a saved tokenizer leaves in its directory (one suffices)
TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "vocab.txt", "spiece.model", "tokenizer.model",
                   "sentencepiece.bpe.model")


def check_source(source: str, revision: str | None, needs: tuple[str, ...], what: str) -> None:
    """ModelLoadError unless ``source`` (a local directory or a Hugging Face id) has one of the
    files ``needs`` locally: in the directory, or in the local Hugging Face cache."""
    path = Path(source).expanduser()
    if path.is_dir():
        if not any((path / f).is_file() for f in needs):
            raise ModelLoadError(f"'{path}' has no {what} ({', '.join(needs)}); save it there with "
                                 "save_pretrained(directory)")
        return
    if path.exists() or source.startswith(("/", ".", "~")) or source.count("/") > 1:
        raise ModelLoadError(f"'{source}' is not a directory; pass one written by "
                             "save_pretrained(directory), or a model id in the local cache")
    from huggingface_hub import try_to_load_from_cache

    if not any(isinstance(try_to_load_from_cache(source, f, revision=revision), str)
               for f in needs):
        raise ModelLoadError(f"'{source}' is neither a local directory nor in the local Hugging "
                             f"Face cache (no {what}); downloads are not possible offline: pass a "
                             "directory written by save_pretrained")


class HFDeclared:
    """A transformers dual encoder (CLIPModel, SiglipModel) from a model id or local directory."""

    Params = HFParams
    capabilities = frozenset({"image", "text"})

    @classmethod
    def preflight(cls, params: HFParams) -> None:
        """The model and its tokenizer are on disk (a directory, or the local cache)."""
        check_source(params.model, params.revision, ("config.json",), "model config")
        check_source(params.tokenizer or params.model, params.revision, TOKENIZER_FILES,
                     "tokenizer files")


class HFClapParams(Params):
    model: str = Field(description="transformers model id (cached locally) or a local directory "
                       "holding the ClapModel and its ClapProcessor", json_schema_extra=INPUT)
    tokenizer: str | None = Field(default=None, description="tokenizer id or directory; default: model",
                                  json_schema_extra=INPUT)
    revision: str | None = None


class HFClapDeclared(HFDeclared):
    """A transformers ClapModel (audio-text) from a model id or local directory."""

    Params = HFClapParams  # type: ignore[assignment]
    capabilities = frozenset({"audio", "text"})

    @classmethod
    def preflight(cls, params: HFClapParams) -> None:  # type: ignore[override]
        """The model and its tokenizer are on disk (as for any transformers model), and its
        feature extractor's config."""
        super().preflight(params)  # type: ignore[arg-type]
        check_source(params.model, params.revision, ("preprocessor_config.json",),
                     "feature extractor config")
