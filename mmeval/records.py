"""Per-sample records from the outcomes of one batch: pure bookkeeping, no model. What the
runner journals for each sample: predictions and verdicts (clean, adversarial in fp32, and the
attack precision's verdict where it differs), perturbation norms, non-finite flags, transfer
tags, the attack's per-sample info, changed captions and class prompts, and the objective's
arrays (embeddings for gallery metrics). Audio records also carry the perturbation's
signal-to-noise ratio, ``snr_db`` (None where the waveform is unchanged)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .attacks.base import snr_db
from .types import AttackOutput, Batch, Outcome, SampleRecord

#: the extra key of a sample whose model outputs held NaN or inf (never scored)
NON_FINITE = "non_finite"


@dataclass(frozen=True)
class Scored:
    """One batch scored: the clean and fp32 adversarial outcomes, the adversarial signal (images
    or audio), the attack's output, and the attack-precision verdicts (None in fp32)."""

    clean: Outcome
    adv: Outcome
    adv_signal: torch.Tensor
    out: AttackOutput
    low: list[bool] | None = None


def _finite(outcome: Outcome, n: int) -> list[bool]:
    return [True] * n if outcome.finite is None else outcome.finite.tolist()


def make_records(cell_id: str, batch: Batch, scored: Scored, *, precision: str,
                 clean_prompts: Sequence[str], transfer: tuple[str, str] | None) -> list[SampleRecord]:
    """The records of ``batch`` (``transfer``: (source, target) labels of a transfer cell)."""
    n = len(batch)
    clean, adv, out = scored.clean, scored.adv, scored.out
    delta = (scored.adv_signal - batch.signal).flatten(1).float()
    linf, l2 = delta.abs().amax(dim=1).tolist(), delta.norm(dim=1).tolist()
    labels = batch.labels.tolist() if batch.labels is not None else [None] * n
    cp, ap = clean.pred.tolist(), adv.pred.tolist()
    cc, ac = clean.correct.tolist(), adv.correct.tolist()
    extras: list[dict[str, Any]] = [{} for _ in range(n)]
    if batch.modality == "audio":
        snr = snr_db(batch.signal.float(), scored.adv_signal.float()).tolist()
        for e, v in zip(extras, snr, strict=True):
            e["snr_db"] = v if math.isfinite(v) else None
    if scored.low is not None:  # keep the attack-precision verdict where the fp32 re-check differs
        for i, (lp, fp) in enumerate(zip(scored.low, ac, strict=True)):
            if lp != fp:
                extras[i][f"adv_correct_{precision}"] = lp
    for i, (c_ok, a_ok) in enumerate(zip(_finite(clean, n), _finite(adv, n), strict=True)):
        if not (c_ok and a_ok):  # flagged, never counted as correct or fooled
            extras[i][NON_FINITE] = "+".join(
                k for k, ok in (("clean", c_ok), ("adv", a_ok)) if not ok)
            cc[i] = ac[i] = False
    if transfer is not None:
        for e in extras:
            e.update(source=transfer[0], target=transfer[1])
    for key, values in out.info.items():
        for i, v in enumerate(values):
            extras[i][key] = v
    if out.texts is not None:
        for i, texts in enumerate(out.texts):
            extras[i]["adv_texts"] = list(texts)
    if out.prompts is not None:
        for i, prompts in enumerate(out.prompts):
            extras[i]["adv_prompts"] = {str(c): p for c, (p, q) in
                                        enumerate(zip(prompts, clean_prompts, strict=True)) if p != q}
    arrays: list[dict[str, torch.Tensor]] = [{} for _ in range(n)]
    for prefix, outcome in (("clean_", clean), ("adv_", adv)):
        for key, values in outcome.arrays.items():
            for i, v in enumerate(values):
                arrays[i][prefix + key] = v
        for key, values in outcome.info.items():
            for i, v in enumerate(values):
                extras[i][prefix + key] = v
    return [SampleRecord(cell_id, sid, labels[i], cp[i], ap[i], cc[i], ac[i], linf[i], l2[i],
                         extras[i], arrays[i]) for i, sid in enumerate(batch.sample_ids)]
