"""Test helpers for mmeval and its plugins (public, like ``mmeval`` itself): the contract test
classes, the deterministic toy model and data, a network block, small specs, and subprocesses
watched for progress instead of timed."""

from __future__ import annotations

from typing import Any

from .assertions import assert_metric
from .contracts import AttackContract, DefenseContract, ModelContract, check_model_contract
from .network import no_network
from .processes import Watched, run_watched
from .toy import ToyDataset, ToyVLM

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
