"""The runnable wrapped attacks, built on first use from their declarations in
:mod:`~mmeval_torchattacks.catalogue` (``attacks.PGD`` is torchattacks.PGD driven through the
objective's classifier view)."""

from __future__ import annotations

from functools import cache
from typing import Any

from . import catalogue
from .adapter import attack_class


@cache
def __getattr__(name: str) -> Any:
    declaration = getattr(catalogue, name, None)
    if not isinstance(declaration, type):
        raise AttributeError(f"module 'mmeval_torchattacks.attacks' has no attribute {name!r}")
    return attack_class(declaration)
