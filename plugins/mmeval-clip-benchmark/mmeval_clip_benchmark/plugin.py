"""Registers CLIP_benchmark's local-root datasets as ``clip-benchmark/<name>`` and the suites
(imported on first use; the catalog itself is plain data)."""

from __future__ import annotations

import mmeval

from .catalog import ENTRIES

SUITES = {
    "clip-benchmark/tecoa": ("TeCoA", "TeCoA/MMCoA's 16 zero-shot classification datasets"),
    "clip-benchmark/fare": ("FARE", "FARE's 13 zero-shot classification datasets"),
    "clip-benchmark/imagenet-shifts": ("ImageNetShifts", "ImageNet, -V2, -Sketch, -A, -R"),
    "clip-benchmark/retrieval": ("RetrievalSuite", "Flickr8k, Flickr30k, MS-COCO retrieval"),
}


@mmeval.hookimpl
def mmeval_register_datasets(registry) -> None:
    for e in ENTRIES.values():
        registry.add(f"clip-benchmark/{e.name}", f"mmeval_clip_benchmark.datasets:{e.class_name}",
                     description=f"{e.summary} [{e.kind}]")


@mmeval.hookimpl
def mmeval_register_suites(registry) -> None:
    for name, (attr, description) in SUITES.items():
        registry.add(name, f"mmeval_clip_benchmark.suites:{attr}", description=description)
