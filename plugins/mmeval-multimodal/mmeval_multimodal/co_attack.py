"""Co-Attack (Zhang, Yi, Sang, "Towards Adversarial Attack on Vision-Language Pre-training
Models", ACM MM 2022), the unimodal-embedding form used for CLIP.

Text first: the text stage (by default the BERT-Attack variant with Co-Attack's goal: each caption
moves away from its own clean embedding, ``KL(softmax(e) || softmax(e'))`` over embedding
dimensions, as in the paper and the official code) perturbs the texts. Then the image
is attacked with Linf PGD maximising, per sample,
``KL(softmax(v) || softmax(v')) + alpha * mean_j KL(softmax(u'_j) || softmax(v'))`` where ``v`` and
``v'`` are the clean and adversarial image embeddings and ``u'_j`` the embeddings of the sample's
adversarial texts (softmax over embedding dimensions, fp32: in fp16 the KL underflows). Defaults:
eps 2/255, 10 steps of 1.25 * eps / steps, alpha 3; the last iterate is returned.

With ``modality="audio"`` the same scheme attacks an audio-text model: the waveform takes the
image's place (L-inf ``eps`` in [-1, 1] amplitude units), its embedding the image embedding's.

Deviations, explicit: the reference pairs one image with one caption and keeps the image crafted
for its last caption; here an image with several captions is attacked once, against the mean of
its captions' terms. For zero-shot classification the paired text is the (adversarial) prompt of
the image's true class. The reference starts from the one-sided ``eps * U(0, 1)``; that start is
``init="one-sided"``, the default is the usual two-sided ``U(-eps, eps)``. ``compat="reference"``
takes the first gradient at that start unclamped, ``x + delta`` possibly above 1, guides the image
by its last caption only (the image the reference keeps), and runs the text stage in its reference
mode.
"""

from __future__ import annotations

from typing import Any

from mmeval import BOUNDS, AttackOutput, Batch, encode_signal, pgd_loop, random_start

from .declared import CoAttackDeclared
from .joint import (
    JointAttack,
    embed_sets,
    joined,
    kl,
    log_softmax32,
    paired_texts,
    per_sample,
)


class CoAttack(CoAttackDeclared, JointAttack):
    """Text stage, then PGD on the image (or audio) guided by the clean signal and the
    adversarial texts."""

    def run(self, model: Any, batch: Batch, objective: Any, rng: Any) -> AttackOutput:
        p = self.params
        x, modality = batch.signal, batch.modality
        reference = p.compat == "reference"
        text = self.text_stage(model, batch, objective, rng)
        sets = paired_texts(model, batch, objective, text)
        if reference:  # the image the reference keeps: crafted with its last caption
            sets = [texts[-1:] for texts in sets]
        u, owner = embed_sets(model, sets)
        log_u = log_softmax32(u)
        log_v = log_softmax32(encode_signal(model, modality, x).detach())

        def loss(adv):
            log_adv = log_softmax32(encode_signal(model, modality, adv))
            guided = per_sample(kl(log_u, log_adv[owner]), owner, len(x), mean=True)
            return kl(log_v, log_adv) + p.alpha * guided

        if p.init == "none" and not reference:
            start = x.clone()
        else:  # the reference's first gradient sees x + delta before any clamp
            start = random_start(x, rng, "linf", p.eps, one_sided=reference or p.init == "one-sided",
                                 projected=not reference or p.steps == 0, bounds=BOUNDS[modality])
        step = p.step_size or 1.25 * p.eps / max(p.steps, 1)
        adv = pgd_loop(x, start, loss, "linf", p.eps, p.steps, step, bounds=BOUNDS[modality])
        return joined(adv, text, modality)
