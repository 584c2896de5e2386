"""mmeval: adversarial robustness evaluation for vision-language models.

The public API: write a spec, ``plan`` it (validation only), ``evaluate`` it; plugins implement
hooks with ``hookimpl`` and build on :class:`Attack` and :class:`Params`.

Importing the package is cheap: every public name is imported on first use (so ``import mmeval``
in a pytest plugin or a CLI startup does not pull in torch), and the torchvision compatibility
shim (``mmeval/compat.py``) runs right before anything imports torchvision.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
from typing import Any

from .hookspecs import hookimpl

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("Attack", "attack_mode", "project", "verify_output",), ".attacks.base"),
    **dict.fromkeys(("build_stage", "component", "stage", "stages",), ".attacks.compose"),
    **dict.fromkeys(("PGD", "PGDParams", "pgd_loop", "random_start"), ".attacks.pgd"),
    **dict.fromkeys((
        "DataError", "DuplicateComponentError", "IncompatibleComponentsError",
        "MissingDependencyError", "MmevalError", "ModelLoadError", "PluginLoadError", "SpecError",
        "StoreError", "ThreatModelViolation", "UnknownComponentError",
    ), ".errors"),
    **dict.fromkeys(("wilson",), ".metrics"),
    **dict.fromkeys((
        "InBatchMatching", "contrastive_loss", "text_owners",
    ), ".objectives.contrastive"),
    **dict.fromkeys(("Plan", "plan",), ".planning"),
    **dict.fromkeys(("PluginHost", "get_host",), ".plugins"),
    **dict.fromkeys(("ClassifierObjective", "InputSpec", "VLModel",), ".protocols"),
    **dict.fromkeys(("Params",), ".registry"),
    **dict.fromkeys(("recompute",), ".report"),
    **dict.fromkeys(("RunResult", "evaluate",), ".runner"),
    **dict.fromkeys(("BatchRandom",), ".seeding"),
    **dict.fromkeys((
        "AttackSpec", "ComponentRef", "EvalSpec", "ModelSpec", "RunSettings", "TaskSpec",
        "load_spec",
    ), ".spec"),
    **dict.fromkeys((
        "ClassPrompts", "TrainResult", "TrainSpec", "WeightDefense", "WeightDefenseParams",
        "load_train_spec", "train", "trained_model",
    ), ".training"),
    **dict.fromkeys((
        "AttackOutput", "Batch", "MetricValue", "Outcome", "Sample", "SampleRecord", "ThreatModel",
    ), ".types"),
}


class _TorchvisionShim(importlib.abc.MetaPathFinder):
    """Runs ``ensure_torchvision_importable`` once, just before the first ``import torchvision``."""

    done = False

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "torchvision" and not self.done:
            self.done = True
            from .compat import ensure_torchvision_importable

            ensure_torchvision_importable()
        return None


if not any(isinstance(f, _TorchvisionShim) for f in sys.meta_path):
    sys.meta_path.insert(0, _TorchvisionShim())


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mmeval' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


def create_model(name: str, **params: object) -> object:
    """Build a registered model by name, e.g. ``create_model("mmeval/toy-vlm", seed=1)``."""
    from .plugins import get_host

    return get_host().registry.get("model", name).build(params)


def list_components(kind: str) -> list[str]:
    """Names registered for ``kind`` (model, attack, defense, objective, dataset, metric)."""
    from .plugins import get_host

    return [c.name for c in get_host().registry.components(kind)]  # type: ignore[arg-type]


__all__ = [
    "PGD",
    "Attack",
    "AttackOutput",
    "AttackSpec",
    "Batch",
    "BatchRandom",
    "ClassPrompts",
    "ClassifierObjective",
    "ComponentRef",
    "DataError",
    "DuplicateComponentError",
    "EvalSpec",
    "InBatchMatching",
    "IncompatibleComponentsError",
    "InputSpec",
    "MetricValue",
    "MissingDependencyError",
    "MmevalError",
    "ModelLoadError",
    "ModelSpec",
    "Outcome",
    "PGDParams",
    "Params",
    "Plan",
    "PluginHost",
    "PluginLoadError",
    "RunResult",
    "RunSettings",
    "Sample",
    "SampleRecord",
    "SpecError",
    "StoreError",
    "TaskSpec",
    "ThreatModel",
    "ThreatModelViolation",
    "TrainResult",
    "TrainSpec",
    "UnknownComponentError",
    "VLModel",
    "WeightDefense",
    "WeightDefenseParams",
    "__version__",
    "attack_mode",
    "build_stage",
    "component",
    "contrastive_loss",
    "create_model",
    "evaluate",
    "get_host",
    "hookimpl",
    "list_components",
    "load_spec",
    "load_train_spec",
    "pgd_loop",
    "plan",
    "project",
    "random_start",
    "recompute",
    "stage",
    "stages",
    "text_owners",
    "train",
    "trained_model",
    "verify_output",
    "wilson",
]
