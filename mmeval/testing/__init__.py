"""Test helpers for mmeval and its plugins (public, like ``mmeval`` itself): the contract test
classes, the deterministic toy model and data, a network block, small specs, and subprocesses
watched for progress instead of timed. Each name is imported on first use, so registering the
toy components (``declared``) imports no torch."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    **dict.fromkeys(("assert_metric",), ".assertions"),
    **dict.fromkeys(("AttackContract", "DefenseContract", "ModelContract", "check_model_contract"),
                    ".contracts"),
    **dict.fromkeys(("no_network",), ".network"),
    **dict.fromkeys(("Watched", "run_watched"), ".processes"),
    **dict.fromkeys(("ToyDataset", "ToyVLM"), ".toy"),
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mmeval.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


__all__ = ["AttackContract", "DefenseContract", "ModelContract", "ToyDataset", "ToyVLM",
           "Watched", "assert_metric", "check_model_contract", "no_network", "run_watched",
           "toy_spec"]


def toy_spec(**overrides: Any) -> dict[str, Any]:
    """A small valid spec on the toy model (40 samples, clean + PGD-5 at 4/255) as a dict;
    ``overrides`` replace top-level fields."""
    spec: dict[str, Any] = {
        "name": "toy",
        "models": [{"name": "mmeval/toy-vlm"}],
        "tasks": [{"dataset": {"name": "mmeval/toy", "params": {"n": 40}}}],
        "attacks": ["clean", {"name": "mmeval/pgd", "params": {"eps": 4 / 255, "steps": 5}}],
        "run": {"batch_size": 16, "progress": False},
    }
    spec.update(overrides)
    return spec
