"""The offline zoo: tiny models trained from scratch on the synthetic shapes, built on first use and
cached under ``MMEVAL_CACHE_DIR`` (default ``~/.cache/mmeval``). They are saved in the formats a
real checkpoint comes in (an open_clip safetensors checkpoint; a transformers model directory) and
loaded back through the same loading code a user's checkpoint goes through.
"""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

CACHE_ENV = "MMEVAL_CACHE_DIR"
MARKER = "zoo.json"


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "mmeval").expanduser()


@dataclass(frozen=True)
class ZooEntry:
    name: str
    description: str
    builder: str  # "module:function(out_dir, seed, progress) -> dict of facts"
    version: int  # bump when the recipe changes, so stale caches are rebuilt
    loader: str  # "module:function(seed) -> the loaded model"
    #: the data it was trained on: it fits datasets declaring this ``domain`` only
    domain: str | None = None


ENTRIES = {
    "tiny-clip-shapes": ZooEntry(
        "tiny-clip-shapes", "open_clip CLIP (ModifiedResNet + text transformer) on shapes",
        "mmeval.zoo.tiny_clip:build", 2, "mmeval.zoo.tiny_clip:load", "shapes"),
    "tiny-mlm-shapes": ZooEntry(
        "tiny-mlm-shapes", "BERT masked LM + WordPiece tokenizer on shapes captions",
        "mmeval.zoo.tiny_mlm:build", 2, "mmeval.zoo.tiny_mlm:load", "shapes"),
    "tiny-classifier-shapes": ZooEntry(
        "tiny-classifier-shapes", "CNN image classifier of the 10 shapes (Multi-Shield's classifier)",
        "mmeval.zoo.tiny_classifier:build", 1, "mmeval.zoo.tiny_classifier:load",
        "shapes"),
}


def entry_dir(name: str, seed: int) -> Path:
    return cache_dir() / "zoo" / f"{name}-v{ENTRIES[name].version}-seed{seed}"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _entry(name: str) -> ZooEntry:
    if name not in ENTRIES:
        raise KeyError(f"no zoo model '{name}'; available: {sorted(ENTRIES)}")
    return ENTRIES[name]


def _function(target: str) -> Callable[..., Any]:
    """The function a ``"module:function"`` string names (imported on use)."""
    module, _, fn = target.partition(":")
    return getattr(importlib.import_module(module), fn)


def ensure(name: str, seed: int = 0, progress: bool = True) -> Path:
    """The cached directory of zoo model ``name``, building it first if needed (one builder at a
    time across processes; a half-built directory is never used)."""
    entry = _entry(name)
    final = entry_dir(name, seed)
    if (final / MARKER).is_file():
        return final
    with _locked(final.with_suffix(".lock")):
        if (final / MARKER).is_file():
            return final
        tmp = final.with_name(final.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        builder = _function(entry.builder)
        if progress:
            print(f"mmeval: building zoo model {name} (seed {seed}) on first use; it is cached in "
                  f"{final}", file=sys.stderr, flush=True)
        start = time.time()
        with torch.enable_grad():  # first use may come from inside an attack's no_grad block
            facts = builder(tmp, seed=seed, progress=progress)
        facts.update(name=name, seed=seed, version=entry.version,
                     build_seconds=round(time.time() - start, 1))
        (tmp / MARKER).write_text(json.dumps(facts, indent=2) + "\n")
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
    return final


def load(name: str, seed: int = 0) -> Any:
    """Zoo model ``name`` loaded, built first if needed: ``tiny-clip-shapes`` as a VLModel,
    ``tiny-classifier-shapes`` as an ImageClassifier, ``tiny-mlm-shapes`` as (masked LM,
    tokenizer)."""
    return _function(_entry(name).loader)(seed)


def cached() -> list[dict]:
    """Facts of every built zoo model (name, seed, build time, quality measured at build)."""
    root = cache_dir() / "zoo"
    if not root.is_dir():
        return []
    return [json.loads((d / MARKER).read_text()) | {"path": str(d)}
            for d in sorted(root.iterdir()) if (d / MARKER).is_file()]
