"""Sanity gates: evidence that an evaluation measured what it claims (Carlini et al., "On
Evaluating Adversarial Robustness", 2019, §5; Athalye et al., "Obfuscated Gradients Give a False
Sense of Security", ICML 2018).

Record gates are recomputed from the journal with every report:

- ``eps-zero``: an attack at eps 0 reproduces every sample's clean outcome;
- ``monotone``: accuracy does not rise along an eps sweep of one attack (clean accuracy is eps 0);
- ``non-finite``: no sample's model output held NaN or inf (such samples are flagged, not scored).

Model gates run once per model (and task) during the run and are journaled:

- ``gradient-masking``: unbounded PGD (eps 1) brings zero-shot accuracy to about chance;
- ``stochastic``: two forward passes on the same images agree (else the attacks need EOT).

A failed gate marks the cells it concerns ``unreliable`` in results.json and the report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import torch

from .attacks.declared import PGDParams
from .attacks.pgd import PGD
from .objectives.signals import encode_signal
from .planning import Cell, CellInfo
from .protocols import Dataset, Objective, VLModel
from .records import NON_FINITE
from .seeding import BatchRandom, sample_seed
from .spec import ChecksSettings
from .types import BOUNDS, Batch, SampleRecord


def result(gate: str, status: str, detail: str, cells: Sequence[str]) -> dict[str, Any]:
    return {"gate": gate, "status": status, "detail": detail, "cells": list(cells)}


def scored(records: Sequence[SampleRecord]) -> list[SampleRecord]:
    """The records metrics count: those whose model outputs were finite."""
    return [r for r in records if NON_FINITE not in r.extra]


def _share(records: Sequence[SampleRecord], field: str) -> float | None:
    return sum(getattr(r, field) for r in records) / len(records) if records else None


def record_gates(cells: Sequence[tuple[str, CellInfo]],
                 records: Mapping[str, Sequence[SampleRecord]],
                 settings: ChecksSettings) -> list[dict[str, Any]]:
    """The record gates over ``cells`` (each cell id with its journaled description)."""
    out: list[dict[str, Any]] = []
    if settings.non_finite:
        for cid, _ in cells:
            flagged = len(records[cid]) - len(scored(records[cid]))
            if flagged:
                out.append(result("non-finite", "failed", f"{flagged} sample(s) with NaN/inf model "
                                  "outputs (flagged, not scored)", [cid]))
    if settings.eps_zero:
        for cid, info in cells:
            if info.role != "clean" and info.eps == 0.0:
                changed = sum(r.adv_correct != r.clean_correct for r in scored(records[cid]))
                status = "failed" if changed else "passed"
                out.append(result("eps-zero", status, f"{changed} sample(s) change outcome at eps 0",
                                  [cid]))
    if settings.monotone:
        out += _monotone(cells, records, settings.monotone_tolerance)
    return out


def _monotone(cells: Sequence[tuple[str, CellInfo]], records: Mapping[str, Sequence[SampleRecord]],
              tolerance: float) -> list[dict[str, Any]]:
    sweeps: dict[str, list[tuple[float, str]]] = {}
    for cid, info in cells:
        if info.sweep is not None and info.eps is not None:
            sweeps.setdefault(info.sweep, []).append((info.eps, cid))
    out = []
    for members in sweeps.values():
        members.sort()
        ids = [cid for _, cid in members]
        first = scored(records[ids[0]])
        points = [(0.0, "clean", _share(first, "clean_correct"))]
        points += [(eps, cid, _share(scored(records[cid]), "adv_correct")) for eps, cid in members]
        points = [p for p in points if p[2] is not None]
        rises = [f"{a:.4g} -> {b:.4g}: {100 * va:.1f}% -> {100 * vb:.1f}%"
                 for (a, _, va), (b, _, vb) in pairwise(points)
                 if vb > va + tolerance]
        detail = ("accuracy rises with eps (" + "; ".join(rises) + ")" if rises
                  else f"non-increasing over eps {[round(p[0], 6) for p in points]}")
        out.append(result("monotone", "failed" if rises else "passed", detail, ids))
    return out


def _forward(model: VLModel, batch: Batch) -> torch.Tensor:
    if batch.modality in model.capabilities or not hasattr(model, "classify"):
        return encode_signal(model, batch.modality, batch.signal).float()
    return model.classify(batch.signal).float()  # type: ignore[attr-defined]


def stochastic_gate(model: VLModel, batch: Batch, cells: Sequence[str]) -> dict[str, Any]:
    """Two forward passes on ``batch``'s signal must agree (to float tolerance)."""
    with torch.no_grad():
        a, b = _forward(model, batch), _forward(model, batch)
    if torch.allclose(a, b, rtol=1e-4, atol=1e-5, equal_nan=True):
        return result("stochastic", "passed", "two forward passes agree", cells)
    gap = (a - b).abs().max().item()
    return result("stochastic", "failed", f"two forward passes differ (max |diff| {gap:.3g}): the "
                  "model is stochastic; attack it with EOT (e.g. torchattacks/eotpgd)", cells)


def masking_gate(model: VLModel, objective: Objective, dataset: Dataset, seed: int,
                 settings: ChecksSettings, device: torch.device,
                 cells: Sequence[str]) -> dict[str, Any]:
    """Unbounded Linf PGD (eps: the signal's whole range) on the first samples must leave about
    chance accuracy."""
    n = min(settings.masking_samples, len(dataset))
    batch = Batch.collate([dataset[i] for i in range(n)]).to(device)
    rng = BatchRandom([sample_seed(seed, "gradient-masking", s) for s in batch.sample_ids], device)
    # no random start: a random point of the eps-1 ball is itself a destroyed image, which would
    # hide a zero gradient
    lo, hi = BOUNDS[batch.modality]
    attack = PGD(PGDParams(modality=batch.modality, eps=hi - lo, steps=settings.masking_steps,
                           random_start=False))
    adv = attack(model, batch, objective, rng).signal(batch.modality)
    assert adv is not None
    with torch.no_grad():
        accuracy = objective.evaluate(model, adv, batch).correct.float().mean().item()
    chance = 1 / len(objective.class_names)  # type: ignore[attr-defined]
    ok = accuracy <= chance + settings.masking_margin
    detail = (f"unbounded PGD-{settings.masking_steps} leaves {100 * accuracy:.1f}% accuracy on "
              f"{n} samples (chance {100 * chance:.1f}%)")
    if not ok:
        detail += ": gradients are masked or obfuscated; try a gradient-free or adaptive attack"
    return result("gradient-masking", "passed" if ok else "failed", detail, cells)


def verdicts(gates: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Per cell id, the failed gates that concern it."""
    out: dict[str, list[str]] = {}
    for g in gates:
        if g["status"] == "failed":
            for cid in g["cells"]:
                out.setdefault(cid, []).append(g["gate"])
    return out


def model_gates(cells: Sequence[Cell], settings: ChecksSettings,
                gated: set[tuple[str, str]]) -> list[tuple[str, Cell, list[str]]]:
    """The model gates still to run for one model's cells, each with a
    cell to run it on and the cells it concerns: ``stochastic`` once per model (attacks with EOT
    are exempt), and ``gradient-masking`` per classification task attacked white-box with
    gradients at an eps above 0."""
    out: list[tuple[str, Cell, list[str]]] = []
    attacked = [c for c in cells if c.info.role != "clean"]
    if settings.stochastic and attacked and ("stochastic", cells[0].group) not in gated:
        out.append(("stochastic", cells[0], [c.id for c in attacked if not c.info.eot]))
    if settings.gradient_masking:
        groups: dict[str, list[Cell]] = {}
        for c in attacked:
            info = c.info
            if (info.role in ("white-box", "adaptive") and info.uses_gradients
                    and info.objective_kind == "classification"
                    and (info.eps is None or info.eps > 0)):
                groups.setdefault(c.group, []).append(c)
        out += [("gradient-masking", members[0], [c.id for c in members])
                for group, members in groups.items() if ("gradient-masking", group) not in gated]
    return out
