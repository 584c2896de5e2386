"""mmeval plugin: torchattacks image attacks on vision-language models."""

from .adapter import ObjectiveLogits, TorchAttack

__all__ = ["ObjectiveLogits", "TorchAttack"]
