"""Optional ``torch.compile`` of the image side of a model (``run.compile`` in an evaluation spec,
``compile`` in a training spec): the encoder that every attack step runs forward and backward
through. Text encoders start from Python strings and see a new token length with every prompt set,
so they stay eager."""

from __future__ import annotations

from typing import Any, Literal

CompileMode = Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]
#: the image-side entry points of the model protocols (VLModel, ImageClassifier)
IMAGE_METHODS = ("encode_image", "classify")


def compile_mode(setting: bool | str) -> str | None:
    """The torch.compile mode a ``compile`` setting asks for (``True``: ``default``), or None."""
    if setting is True:
        return "default"
    return setting or None


def compile_image_side(model: Any, mode: str) -> Any:
    """``model`` with each image-side method it has replaced, on the instance, by its
    torch.compile'd self (graphs for forward and backward; shapes that change are recompiled once
    as dynamic). Weights, state dict and checkpoints are untouched. Returns ``model``."""
    import torch

    for name in IMAGE_METHODS:
        method = getattr(model, name, None)
        if callable(method):
            setattr(model, name, torch.compile(method, mode=mode))
    return model
