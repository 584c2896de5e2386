"""mmeval: adversarial robustness evaluation for vision-language models.

The public API: write a spec, ``plan`` it (validation only), ``evaluate`` it; plugins implement
hooks with ``hookimpl`` and build on :class:`Attack` and :class:`Params`.
"""

__version__ = "0.1.0"

from .compat import ensure_torchvision_importable

ensure_torchvision_importable()

from .attacks.base import Attack, attack_mode, project, verify_output
from .attacks.compose import build_stage, component, stage, stages
from .attacks.pgd import pgd_loop, random_start
from .errors import (
    DataError,
    DuplicateComponentError,
    IncompatibleComponentsError,
    MissingDependencyError,
    MmevalError,
    ModelLoadError,
    PluginLoadError,
    SpecError,
    StoreError,
    ThreatModelViolation,
    UnknownComponentError,
)
from .hookspecs import hookimpl
from .metrics import wilson
from .objectives.contrastive import InBatchMatching, contrastive_loss, text_owners
from .planning import Plan, plan
from .plugins import PluginHost, get_host
from .protocols import ClassifierObjective, InputSpec, VLModel
from .registry import Params
from .report import recompute
from .runner import RunResult, evaluate
from .seeding import BatchRandom
from .spec import AttackSpec, ComponentRef, EvalSpec, ModelSpec, RunSettings, TaskSpec, load_spec
from .training import (
    ClassPrompts,
    TrainResult,
    TrainSpec,
    WeightDefense,
    WeightDefenseParams,
    load_train_spec,
    train,
    trained_model,
)
from .types import AttackOutput, Batch, MetricValue, Outcome, Sample, SampleRecord, ThreatModel


def create_model(name: str, **params: object) -> object:
    """Build a registered model by name, e.g. ``create_model("mmeval/toy-vlm", seed=1)``."""
    return get_host().registry.get("model", name).build(params)


def list_components(kind: str) -> list[str]:
    """Names registered for ``kind`` (model, attack, defense, objective, dataset, metric)."""
    return [c.name for c in get_host().registry.components(kind)]  # type: ignore[arg-type]


__all__ = [
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
