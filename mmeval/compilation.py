"""Optional ``torch.compile`` (``run.compile`` in an evaluation spec, ``compile`` in a training
spec), at two grains:

- **the whole attack step** of the gradient attacks built on :func:`mmeval.pgd_loop` (mmeval's PGD,
  Co-Attack, SGA, the defenses' inner maximizations): forward with resize + normalize, the loss,
  the input-gradient backward (``torch.func.grad``), the update and the projection are one graph
  whose eps and step size are tensor inputs, so an eps sweep reuses it; with ``reduce-overhead``
  or ``max-autotune`` on CUDA, CUDA graphs replay it step after step with no host-device
  synchronisation in the loop. :func:`compiled_steps` switches it on around an attack call, as
  autocast switches precision;
- **the image side of a model** (``encode_image`` / ``classify``), for every attack that steps in
  its own code (torchattacks, the text attacks' scoring) and for the clean and adversarial scoring.

Text encoders start from Python strings and see a new token length with every prompt set, so they
stay eager."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, Literal

CompileMode = Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]
#: the image-side entry points of the model protocols (VLModel, ImageClassifier)
IMAGE_METHODS = ("encode_image", "classify")
#: modes whose CUDA graphs reuse their output buffers from one replay to the next
CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")
#: compiled graphs one step function may hold (models x objectives x norms x batch shapes of a
#: grid) before torch.compile falls back to eager for it
RECOMPILE_LIMIT = 64

_STEP_MODE: ContextVar[str | None] = ContextVar("mmeval_step_compile", default=None)
_COMPILED: dict[tuple[Callable[..., Any], str], Callable[..., Any]] = {}


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


@contextlib.contextmanager
def compiled_steps(mode: str | None) -> Iterator[None]:
    """Within the block, :func:`mmeval.pgd_loop` runs each ascent step as one graph compiled in
    ``mode`` (nothing changes for None)."""
    token = _STEP_MODE.set(mode)
    try:
        yield
    finally:
        _STEP_MODE.reset(token)


def step_mode() -> str | None:
    """The compile mode :func:`compiled_steps` set for the current attack call, or None."""
    return _STEP_MODE.get()


def compiled_step(step: Callable[..., Any], mode: str) -> Callable[..., Any]:
    """``step`` torch.compile'd in ``mode`` (once per step function and mode). A call that cannot
    be traced runs eagerly, with the same result."""
    key = (step, mode)
    if key not in _COMPILED:
        import torch

        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit,
                                                   RECOMPILE_LIMIT)
        _COMPILED[key] = torch.compile(step, mode=mode)
    return _COMPILED[key]
