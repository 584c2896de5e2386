"""The offline zoo: tiny models trained from scratch on the synthetic shapes, saved in the formats a
real checkpoint comes in (an open_clip safetensors checkpoint; a transformers model directory) and
loaded back through the same loading code a user's checkpoint goes through.

Seed 0 of every model ships with the package (``mmeval/zoo/weights/``), produced by
``mmeval zoo build NAME --package``. Each build records its *recipe*: the SHA-256 of the files that
define it (the builder module, the shapes generator its data comes from, the architecture config).
Packaged weights are used only while their recorded recipe equals the code's; otherwise, and for
other seeds, the model is trained on first use and cached under ``MMEVAL_CACHE_DIR`` (default
``~/.cache/mmeval``) in a directory named after the recipe, so a changed recipe never reuses a
stale build.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import json
import os
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ModelLoadError

CACHE_ENV = "MMEVAL_CACHE_DIR"
MARKER = "zoo.json"
#: the mmeval package directory (recipe sources are named relative to it)
PACKAGE = Path(__file__).resolve().parent.parent
#: where the packaged weights live: ``<name>-seed<seed>/``
PACKAGED = Path(__file__).resolve().parent / "weights"


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "mmeval").expanduser()


@dataclass(frozen=True)
class ZooEntry:
    name: str
    description: str
    builder: str  # "module:function(out_dir, seed, progress) -> dict of facts"
    loader: str  # "module:function(seed) -> the loaded model"
    #: the files (relative to the mmeval package) whose content defines the trained weights
    sources: tuple[str, ...]
    #: the data it was trained on: it fits datasets declaring this ``domain`` only
    domain: str | None = None
    #: whether seed 0 ships with the package (False: every seed trains on first use)
    ships: bool = True


TRIMODAL_SOURCES = ("zoo/tiny_trimodal.py", "zoo/tiny_clap.py", "zoo/contrastive.py",
                    "zoo/configs/mmeval-tiny-trimodal.json", "models/audio.py", "data/sounds.py",
                    "data/shapes.py")

ENTRIES = {
    "tiny-clip-shapes": ZooEntry(
        "tiny-clip-shapes", "open_clip CLIP (ModifiedResNet + text transformer) on shapes",
        "mmeval.zoo.tiny_clip:build", "mmeval.zoo.tiny_clip:load",
        ("zoo/tiny_clip.py", "zoo/configs/mmeval-tiny-clip.json", "data/shapes.py"), "shapes"),
    "tiny-mlm-shapes": ZooEntry(
        "tiny-mlm-shapes", "BERT masked LM + WordPiece tokenizer on shapes captions",
        "mmeval.zoo.tiny_mlm:build", "mmeval.zoo.tiny_mlm:load",
        ("zoo/tiny_mlm.py", "data/shapes.py"), "shapes"),
    "tiny-clap-shapes": ZooEntry(
        "tiny-clap-shapes", "audio-text model (log-mel CNN + text transformer) on sounds",
        "mmeval.zoo.tiny_clap:build", "mmeval.zoo.tiny_clap:load",
        ("zoo/tiny_clap.py", "zoo/contrastive.py", "zoo/configs/mmeval-tiny-clap.json",
         "models/audio.py", "data/sounds.py", "data/shapes.py"), "shapes"),
    "tiny-trimodal-shapes": ZooEntry(
        "tiny-trimodal-shapes", "image, audio and text towers, each aligned to the captions",
        "mmeval.zoo.tiny_trimodal:build_trimodal", "mmeval.zoo.tiny_trimodal:load_trimodal",
        TRIMODAL_SOURCES, "shapes"),
    "tiny-imagetext-shapes": ZooEntry(
        "tiny-imagetext-shapes", "the tri-modal model's control: image-text only, same budget",
        "mmeval.zoo.tiny_trimodal:build_imagetext", "mmeval.zoo.tiny_trimodal:load_imagetext",
        TRIMODAL_SOURCES, "shapes", ships=False),
    "tiny-classifier-shapes": ZooEntry(
        "tiny-classifier-shapes", "CNN image classifier of the 10 shapes (Multi-Shield's classifier)",
        "mmeval.zoo.tiny_classifier:build", "mmeval.zoo.tiny_classifier:load",
        ("zoo/tiny_classifier.py", "data/shapes.py"), "shapes"),
}


def _entry(name: str) -> ZooEntry:
    if name not in ENTRIES:
        raise KeyError(f"no zoo model '{name}'; available: {sorted(ENTRIES)}")
    return ENTRIES[name]


def entry_named(ref: str) -> ZooEntry | None:
    """The zoo entry a ``zoo/<name>`` reference names (a text attack's ``mlm``); None for
    anything else (a directory, a Hugging Face id)."""
    return ENTRIES.get(ref.removeprefix("zoo/")) if ref.startswith("zoo/") else None


def recipe(name: str) -> dict[str, Any]:
    """What zoo model ``name`` is built from: the SHA-256 of each source file (line endings
    normalised) and ``hash``, one digest over all of them."""
    sources = {}
    for rel in _entry(name).sources:
        text = (PACKAGE / rel).read_bytes().replace(b"\r\n", b"\n")
        sources[rel] = hashlib.sha256(text).hexdigest()
    digest = hashlib.sha256(json.dumps([name, sources], sort_keys=True).encode()).hexdigest()
    return {"hash": digest[:16], "sources": sources}


def packaged_dir(name: str, seed: int) -> Path:
    return PACKAGED / f"{name}-seed{seed}"


def check_recipe(path: Path, name: str) -> dict[str, Any]:
    """The facts of the build in ``path``, refused (ModelLoadError) unless it is a build of
    ``name`` by the recipe the code defines today."""
    facts = json.loads((path / MARKER).read_text())
    now = recipe(name)
    if facts.get("name") != name or facts.get("recipe") != now["hash"]:
        recorded = facts.get("sources", {})
        changed = sorted(k for k, v in now["sources"].items() if recorded.get(k) != v)
        raise ModelLoadError(
            f"the weights in {path} were built by recipe {facts.get('recipe')!r} of "
            f"{facts.get('name')!r}, but zoo/{name} is recipe {now['hash']!r} today (changed: "
            f"{', '.join(changed) or 'the model name'}); rebuild them with "
            f"`mmeval zoo build {name} --package`")
    return facts


def packaged(name: str, seed: int) -> Path | None:
    """The packaged weights of ``name`` at ``seed`` if they exist and match today's recipe; None
    if none ship; a warning and None if they were built by another recipe."""
    path = packaged_dir(name, seed)
    if not (path / MARKER).is_file():
        return None
    try:
        check_recipe(path, name)
    except ModelLoadError as exc:
        warnings.warn(f"{exc}; training it from the code instead", RuntimeWarning, stacklevel=3)
        return None
    return path


def entry_dir(name: str, seed: int) -> Path:
    """The cache directory of ``name`` at ``seed`` built by today's recipe."""
    return cache_dir() / "zoo" / f"{name}-{recipe(name)['hash']}-seed{seed}"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _function(target: str) -> Callable[..., Any]:
    """The function a ``"module:function"`` string names (imported on use)."""
    module, _, fn = target.partition(":")
    return getattr(importlib.import_module(module), fn)


def build(name: str, seed: int, final: Path, progress: bool = True, *,
          rebuild: bool = True) -> Path:
    """Train zoo model ``name`` at ``seed`` into ``final``, recording its facts and recipe in
    ``zoo.json`` (``rebuild=False``: keep a complete build already there). One builder at a time
    across processes; a half-built directory is never left in its place."""
    import torch

    entry = _entry(name)
    with _locked(cache_dir() / "zoo" / "locks" / f"{final.name}.lock"):
        if not rebuild and (final / MARKER).is_file():  # another process built it meanwhile
            return final
        tmp = final.with_name(final.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if progress:
            print(f"mmeval: training zoo model {name} (seed {seed}) into {final}", file=sys.stderr,
                  flush=True)
        made, start = recipe(name), time.time()
        with torch.enable_grad():  # first use may come from inside an attack's no_grad block
            facts = _function(entry.builder)(tmp, seed=seed, progress=progress)
        facts.update(name=name, seed=seed, recipe=made["hash"], sources=made["sources"],
                     torch=torch.__version__, build_seconds=round(time.time() - start, 1))
        (tmp / MARKER).write_text(json.dumps(facts, indent=2) + "\n")
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
    return final


def ensure(name: str, seed: int = 0, progress: bool = True) -> Path:
    """The directory of zoo model ``name`` at ``seed``: the packaged weights if they match
    today's recipe, else the cached build, trained first if there is none."""
    _entry(name)
    shipped = packaged(name, seed)
    if shipped is not None:
        return shipped
    final = entry_dir(name, seed)
    if (final / MARKER).is_file():
        return final
    return build(name, seed, final, progress, rebuild=False)


def load(name: str, seed: int = 0) -> Any:
    """Zoo model ``name`` loaded (trained first if needed): ``tiny-clip-shapes`` and
    ``tiny-clap-shapes`` as VLModels,
    ``tiny-classifier-shapes`` as an ImageClassifier, ``tiny-mlm-shapes`` as (masked LM,
    tokenizer)."""
    return _function(_entry(name).loader)(seed)


def _builds(root: Path) -> list[dict]:
    """Facts of every complete build under ``root``, with its ``path`` and ``current``: whether
    it is a build of a zoo model by that model's recipe today."""
    if not root.is_dir():
        return []
    out = []
    for d in sorted(root.iterdir()):
        if (d / MARKER).is_file():
            facts = json.loads((d / MARKER).read_text())
            current = facts.get("name") in ENTRIES and facts.get("recipe") == recipe(
                facts["name"])["hash"]
            out.append(facts | {"path": str(d), "current": current})
    return out


def cached() -> list[dict]:
    """Facts of every zoo model built into the cache by today's recipes (name, seed, build time,
    training facts)."""
    return [facts for facts in _builds(cache_dir() / "zoo") if facts["current"]]


def shipped() -> list[dict]:
    """Facts of every packaged build, with ``current``: whether it matches today's recipe."""
    return _builds(PACKAGED)
