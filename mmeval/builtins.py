"""The core's own components, registered through the same hooks a third-party plugin uses."""

from __future__ import annotations

from .hookspecs import hookimpl
from .registry import KindRegistry


@hookimpl
def mmeval_register_models(registry: KindRegistry) -> None:
    registry.add("mmeval/toy-vlm", "mmeval.testing.toy:ToyVLM", aliases=["toy-vlm"],
                 description="Deterministic toy CLIP-like model for tests and demos")


@hookimpl
def mmeval_register_datasets(registry: KindRegistry) -> None:
    registry.add("mmeval/toy", "mmeval.testing.toy:ToyDataset", aliases=["toy"],
                 description="Noisy class prototypes the toy VLM recognises")


@hookimpl
def mmeval_register_objectives(registry: KindRegistry) -> None:
    registry.add("zero-shot", "mmeval.objectives.zero_shot:ZeroShotClassification",
                 aliases=["mmeval/zero-shot-classification"],
                 description="Zero-shot classification: CE over cached class-prompt embeddings")


@hookimpl
def mmeval_register_attacks(registry: KindRegistry) -> None:
    registry.add("clean", "mmeval.attacks.clean:Clean", aliases=["mmeval/clean"],
                 description="No attack: the adversarial input is the clean input")
    registry.add("mmeval/pgd", "mmeval.attacks.pgd:PGD", aliases=["pgd"],
                 description="Reference PGD on the objective's loss (Linf / L2; Madry et al. 2018)")


@hookimpl
def mmeval_register_metrics(registry: KindRegistry) -> None:
    for name, attr in [
        ("clean-accuracy", "CleanAccuracy"),
        ("robust-accuracy", "RobustAccuracy"),
        ("attack-success-rate", "AttackSuccessRate"),
        ("worst-case-robust-accuracy", "WorstCaseRobustAccuracy"),
    ]:
        registry.add(name, f"mmeval.metrics:{attr}")
