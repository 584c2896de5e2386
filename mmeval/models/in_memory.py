"""Models defined in your own code, evaluated without writing a plugin: ``register_model(label,
obj)`` names an in-memory VLModel (or ImageClassifier) ``local/<label>`` in a plugin host, e.g.
from conftest.py; ``evaluate(spec, models={label: obj})`` and the pytest fixture
``mmeval_evaluate(spec, models=...)`` register and add them for you. ``wrap_open_clip`` and
``wrap_hf`` adapt an open_clip or transformers model already in memory.

A registered object's params hold a digest of its weights (for an ``nn.Module``: every tensor of
its state dict), so its cells change when the weights do."""

from __future__ import annotations

import hashlib
import re
from typing import Any, Literal

import torch
from pydantic import BaseModel, Field, create_model

from ..errors import SpecError
from ..objectives.signals import ENCODERS
from ..plugins import PluginHost, get_host
from ..protocols import ImageClassifier, VLModel
from ..registry import Component, Params
from .hf_clip import HFDualEncoder
from .open_clip import OpenCLIPModel

#: what the VLModel protocol asks of a model object (and an encoder per signal it declares)
REQUIRED = ("input_specs", "capabilities", "logit_scale", "encode_text", "eval", "train",
            "parameters")


def wrap_open_clip(model: torch.nn.Module, tokenizer: Any, *, image_size: int | None = None,
                   interpolation: str | None = None) -> VLModel:
    """A VLModel around an open_clip model in memory and its tokenizer."""
    return OpenCLIPModel.wrap(model, tokenizer, image_size=image_size,
                              interpolation=interpolation)


def wrap_hf(model: torch.nn.Module, processor: Any, *, image_size: int | None = None) -> VLModel:
    """A VLModel around a transformers CLIPModel or SiglipModel in memory and its processor."""
    return HFDualEncoder.wrap(model, processor, image_size=image_size)


def weights_digest(obj: Any) -> str:
    """A digest of an ``nn.Module``'s state dict (names, dtypes, shapes, values); of the object's
    type otherwise."""
    h = hashlib.sha256(type(obj).__qualname__.encode())
    if isinstance(obj, torch.nn.Module):
        for name, t in sorted(obj.state_dict().items()):
            h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
            h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


class LocalModel:
    """The registry target of a model object: building it hands out the object itself."""

    def __init__(self, obj: Any, label: str) -> None:
        self.obj, self.capabilities = obj, frozenset(obj.capabilities)
        digest = weights_digest(obj)
        self.Params = create_model(
            f"LocalModelParams_{label}", __base__=Params,
            weights=(Literal[digest], Field(default=digest, description="digest of the "  # type: ignore[valid-type]
                                            "object's weights when registered")))

    def __call__(self, params: Params) -> Any:
        return self.obj


def register_model(label: str, obj: Any, host: PluginHost | None = None) -> str:
    """Register ``obj`` as the model ``local/<label>`` (replacing an earlier object of that
    label) and return the name; SpecError if it does not meet the VLModel protocol."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", label):
        raise SpecError("a model label is letters, digits, '_', '.' or '-'", f"models['{label}']")
    encoders = [ENCODERS[m] for m in getattr(obj, "capabilities", ()) if m in ENCODERS]
    if not isinstance(obj, (VLModel, ImageClassifier)) or not all(hasattr(obj, e) for e in encoders):
        missing = [a for a in (*REQUIRED, *encoders) if not hasattr(obj, a)]
        raise SpecError(f"{type(obj).__name__} is not a VLModel: it lacks {missing}; see "
                        "docs/writing-plugins.md (the VLModel protocol) or wrap it with "
                        "mmeval.wrap_open_clip / mmeval.wrap_hf", f"models['{label}']")
    name = f"local/{label}"
    (host or get_host()).registry.add(
        Component("model", name, LocalModel(obj, label), "local",
                  description=f"{type(obj).__name__} object registered in this process"),
        replace=True)
    return name


def with_models(spec: BaseModel | dict[str, Any], models: dict[str, Any],
                host: PluginHost) -> dict[str, Any]:
    """``spec`` (a spec model or a dict) as a dict with each of ``models`` registered in ``host``
    and appended to its models."""
    spec = spec.model_dump(mode="json") if isinstance(spec, BaseModel) else dict(spec)
    refs = [{"name": register_model(label, obj, host), "label": label}
            for label, obj in models.items()]
    return {**spec, "models": [*spec.get("models", []), *refs]}
