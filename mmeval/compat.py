"""Compatibility shims, each narrow and switchable.

torchvision: the PyPI torchvision wheels are CUDA builds whose compiled extension cannot load next
to a CPU-only torch; ``import torchvision`` then dies in its meta registrations because the
operators ``torchvision::nms`` / ``torchvision::qnms`` do not exist. open_clip, timm and
transformers' vision models import torchvision, so before anything imports it we check whether its
extension loads and, only if it does not, define those two operator schemas so the pure-Python
parts (transforms, models) import. ``torchvision.ops.nms`` stays unavailable; mmeval never uses it.
Set ``MMEVAL_TORCHVISION_SHIM=0`` to switch this off.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path

import torch

SHIM_ENV = "MMEVAL_TORCHVISION_SHIM"
_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_library: torch.library.Library | None = None
_status = "not-checked"


def _extension_loads(package_dir: Path) -> bool:
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = package_dir / f"_C{suffix}"
        if path.is_file():
            try:
                torch.ops.load_library(str(path))
                return True
            except (OSError, ImportError):
                return False
    return False


def ensure_torchvision_importable() -> str:
    """Make ``import torchvision`` work on a CPU-only torch. Returns what was done: ``native``
    (its extension loads; nothing changed), ``shimmed``, ``not-installed``, ``already-imported``
    or ``disabled``."""
    global _library, _status
    if _status != "not-checked":
        return _status
    _status = "checking"  # find_spec below passes through mmeval's import hook, which calls us
    if os.environ.get(SHIM_ENV, "1") == "0":
        _status = "disabled"
    elif "torchvision" in sys.modules:
        _status = "already-imported"
    elif (spec := importlib.util.find_spec("torchvision")) is None or not spec.origin:
        _status = "not-installed"
    elif _extension_loads(Path(spec.origin).parent):
        _status = "native"
    else:
        _library = torch.library.Library("torchvision", "DEF")
        for schema in _SCHEMAS:
            _library.define(schema)
        _status = "shimmed"
    return _status
