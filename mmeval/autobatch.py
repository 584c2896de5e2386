"""Automatic batch size (``run.batch_size = "auto"``): the largest batch whose attack step fits in
GPU memory, probed once per model, device and precision and cached in
``MMEVAL_CACHE_DIR/autobatch.json``. On CPU there is nothing to fill: ``auto`` means
:data:`CPU_BATCH`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import torch

from .errors import MmevalError
from .spec import stable_hash

CPU_BATCH = 32
#: share of the largest fitting batch that is used (room for longer texts, other attacks' state)
SAFETY = 0.85


def largest_fitting(step: Callable[[int], Any], start: int = 8, limit: int = 8192) -> int:
    """The largest ``n`` (powers of two from ``start``, then one step of 1.5x) up to ``limit`` for
    which ``step(n)`` runs without running out of CUDA memory."""
    def fits(n: int) -> bool:
        try:
            step(n)
            return True
        except torch.cuda.OutOfMemoryError:
            return False
        finally:
            torch.cuda.empty_cache()

    best, n = 0, start
    while n <= limit and fits(n):
        best, n = n, 2 * n
    if best == 0:
        raise MmevalError(f"even a batch of {start} does not fit in GPU memory; set run.batch_size")
    if 3 * best // 2 <= limit and fits(3 * best // 2):
        best = 3 * best // 2
    return best


def auto_batch_size(key: dict[str, Any], device: torch.device,
                    step: Callable[[int], Any]) -> int:
    """The cached batch size for ``key`` (model, defense, precision, ...) on ``device``, probing
    with ``step(n)`` (one attack step on ``n`` samples) the first time."""
    if device.type != "cuda":
        return CPU_BATCH
    from .zoo import cache_dir

    path = cache_dir() / "autobatch.json"
    entry = stable_hash({**key, "device": torch.cuda.get_device_name(device),
                         "memory": torch.cuda.get_device_properties(device).total_memory})
    cache: dict[str, int] = json.loads(path.read_text()) if path.is_file() else {}
    if entry not in cache:
        cache[entry] = max(1, int(SAFETY * largest_fitting(step)))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache, indent=1, sort_keys=True))
        tmp.replace(path)
    return cache[entry]
