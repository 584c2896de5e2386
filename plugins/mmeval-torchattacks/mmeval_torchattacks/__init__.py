"""mmeval plugin: torchattacks image attacks on vision-language models.

``ObjectiveLogits`` and ``TorchAttack`` import torchattacks on first use, so registering the plugin
(``mmeval list``, ``mmeval validate``) does not."""

from __future__ import annotations

from typing import Any

__all__ = ["ObjectiveLogits", "TorchAttack"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import adapter

        return getattr(adapter, name)
    raise AttributeError(f"module 'mmeval_torchattacks' has no attribute {name!r}")
