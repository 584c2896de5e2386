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
    **dict.fromkeys(("Attack", "attack_mode", "check_signal", "project", "snr_db",
                     "verify_output",), ".attacks.base"),
    **dict.fromkeys(("build_stage", "building", "component", "declare_stage", "stage",
                     "stage_params", "stages",), ".attacks.compose"),
    **dict.fromkeys(("AttackDeclaration", "CleanDeclared", "PGDDeclared", "PGDParams",
                     "SignalParams"), ".attacks.declared"),
    **dict.fromkeys(("PGD", "pgd_loop", "random_start"), ".attacks.pgd"),
    **dict.fromkeys((
        "DataError", "DuplicateComponentError", "IncompatibleComponentsError",
        "MissingDependencyError", "MmevalError", "ModelLoadError", "PluginLoadError", "SpecError",
        "StoreError", "ThreatModelViolation", "UnknownComponentError",
    ), ".errors"),
    **dict.fromkeys(("average", "wilson",), ".metrics"),
    **dict.fromkeys((
        "InBatchMatching", "contrastive_loss", "text_owners",
    ), ".objectives.contrastive"),
    "encode_signal": ".objectives.signals",
    **dict.fromkeys(("BatchEndEvent", "CellEndEvent", "ReportEvent", "RunEndEvent",
                     "RunStartEvent"), ".hookspecs"),
    **dict.fromkeys(("Cell", "CellInfo", "MetricPlan", "Plan", "StageInfo", "plan",), ".planning"),
    **dict.fromkeys(("PluginHost", "get_host",), ".plugins"),
    **dict.fromkeys((
        "BatchRandomLike", "ClassifierObjective", "Dataset", "Defense", "ImageClassifier",
        "ImageSpec", "AudioSpec", "Metric", "Objective", "PromptObjective", "Suite", "VLModel",
    ), ".protocols"),
    "AttackProtocol": ".protocols:Attack",
    **dict.fromkeys(("NON_FINITE",), ".records"),
    **dict.fromkeys(("ADDED", "INPUT", "INPUT_LISTING", "Component", "ComponentRegistry",
                     "KindRegistry", "NoParams", "Params",), ".registry"),
    **dict.fromkeys(("recompute",), ".report"),
    **dict.fromkeys(("CellResult", "GroupResult", "Results",), ".results"),
    **dict.fromkeys(("RunResult", "evaluate",), ".runner"),
    **dict.fromkeys(("BatchRandom", "sample_seed",), ".seeding"),
    **dict.fromkeys(("Store",), ".store"),
    **dict.fromkeys((
        "AttackSpec", "ComponentRef", "EvalSpec", "ModelSpec", "RunSettings", "TaskSpec",
        "load_spec",
    ), ".spec"),
    **dict.fromkeys(("ClassPrompts", "WeightDefense"), ".training.defense"),
    **dict.fromkeys(("WeightDefenseDeclared", "WeightDefenseParams"), ".training.declared"),
    **dict.fromkeys(("TrainResult", "train", "trained_model"), ".training.engine"),
    **dict.fromkeys(("TrainSpec", "load_train_spec"), ".training.spec"),
    **dict.fromkeys((
        "AttackOutput", "BOUNDS", "Batch", "MetricValue", "Outcome", "Sample", "SampleRecord",
        "SignalModality", "SuiteMember", "ThreatModel", "signal_of",
    ), ".types"),
    **dict.fromkeys(("register_model", "wrap_hf", "wrap_open_clip"), ".models.in_memory"),
    "load_zoo": ".zoo:load",
    "cache_dir": ".zoo:cache_dir",
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
    module, _, attr = _EXPORTS[name].partition(":")
    value = getattr(importlib.import_module(module, __name__), attr or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


def create(kind: str, name: str, **params: object) -> Any:
    """Build a registered component of ``kind`` by name from the process-wide host, e.g.
    ``create("dataset", "shapes", n=16)`` (its stages are built from the same host)."""
    from .plugins import get_host

    return get_host().create(kind, name, params)


def create_model(name: str, **params: object) -> Any:
    """Build a registered model by name, e.g. ``create_model("mmeval/toy-vlm", seed=1)``."""
    return create("model", name, **params)


def list_components(kind: str) -> list[str]:
    """Names registered for ``kind`` (model, attack, defense, objective, dataset, suite, metric)."""
    from .plugins import get_host

    return [c.name for c in get_host().registry.components(kind)]  # type: ignore[arg-type]


__all__ = [
    "ADDED",
    "BOUNDS",
    "INPUT",
    "INPUT_LISTING",
    "NON_FINITE",
    "PGD",
    "Attack",
    "AttackDeclaration",
    "AttackOutput",
    "AttackProtocol",
    "AttackSpec",
    "AudioSpec",
    "Batch",
    "BatchEndEvent",
    "BatchRandom",
    "BatchRandomLike",
    "Cell",
    "CellEndEvent",
    "CellInfo",
    "CellResult",
    "ClassPrompts",
    "ClassifierObjective",
    "CleanDeclared",
    "Component",
    "ComponentRef",
    "ComponentRegistry",
    "DataError",
    "Dataset",
    "Defense",
    "DuplicateComponentError",
    "EvalSpec",
    "GroupResult",
    "ImageClassifier",
    "ImageSpec",
    "InBatchMatching",
    "IncompatibleComponentsError",
    "KindRegistry",
    "Metric",
    "MetricPlan",
    "MetricValue",
    "MissingDependencyError",
    "MmevalError",
    "ModelLoadError",
    "ModelSpec",
    "NoParams",
    "Objective",
    "Outcome",
    "PGDDeclared",
    "PGDParams",
    "Params",
    "Plan",
    "PluginHost",
    "PluginLoadError",
    "PromptObjective",
    "ReportEvent",
    "Results",
    "RunEndEvent",
    "RunResult",
    "RunSettings",
    "RunStartEvent",
    "Sample",
    "SampleRecord",
    "SignalModality",
    "SignalParams",
    "SpecError",
    "StageInfo",
    "Store",
    "StoreError",
    "Suite",
    "SuiteMember",
    "TaskSpec",
    "ThreatModel",
    "ThreatModelViolation",
    "TrainResult",
    "TrainSpec",
    "UnknownComponentError",
    "VLModel",
    "WeightDefense",
    "WeightDefenseDeclared",
    "WeightDefenseParams",
    "__version__",
    "attack_mode",
    "average",
    "build_stage",
    "building",
    "cache_dir",
    "check_signal",
    "component",
    "contrastive_loss",
    "create",
    "create_model",
    "declare_stage",
    "encode_signal",
    "evaluate",
    "get_host",
    "hookimpl",
    "list_components",
    "load_spec",
    "load_train_spec",
    "load_zoo",
    "pgd_loop",
    "plan",
    "project",
    "random_start",
    "recompute",
    "register_model",
    "sample_seed",
    "signal_of",
    "snr_db",
    "stage",
    "stage_params",
    "stages",
    "text_owners",
    "train",
    "trained_model",
    "verify_output",
    "wilson",
    "wrap_hf",
    "wrap_open_clip",
]
