"""SGA, the Set-level Guidance Attack (Lu, Wang, Wang, Guan, Gao, Zheng, "Set-level Guidance
Attack: Boosting Adversarial Transferability of Vision-Language Pre-training Models", ICCV 2023).

1. Image-guided text attack: the text stage perturbs the texts (by default the BERT-Attack variant
   pushing each caption away from its paired clean image).
2. Text-set-guided image attack: Linf PGD from a two-sided random start minimising the cosine
   between every view of the image and each of its adversarial texts. The views are the image
   itself and, for each scale ``s``, ``resize_back(clamp(resize_s(x' + N(0, sigma^2))))`` (bicubic,
   sizes rounded down, not antialiased, as torchvision 0.15's tensor ``Resize`` the reference pins;
   fresh noise every step), all encoded in one batch per step. eps 2/255, 10 steps of 0.5/255,
   scales {0.5, 0.75, 1.25, 1.5}, sigma 0.05.
3. The text stage again from the original texts, now guided by the adversarial images.

With ``scales=[]`` step 2 is exactly PGD on the cosine loss. For zero-shot classification the paired
text is the (adversarial) prompt of the image's true class. The text stage reads 77 masked-LM tokens,
the reference's setting for a CLIP source. ``compat="reference"`` runs the text stage in its
reference mode; the image stage is the reference's in both modes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F

from mmeval import AttackOutput, Batch, pgd_loop, random_start

from .declared import SGADeclared
from .joint import (
    JointAttack,
    embed_sets,
    joined,
    paired_texts,
    per_sample,
)


class SGA(SGADeclared, JointAttack):
    """Three stages: image-guided text, text-set-guided image (scale-invariant), text again."""

    def views(self, adv: torch.Tensor, rng: Any) -> list[torch.Tensor]:
        """The image set: ``adv`` and one noisy, rescaled and restored copy per scale."""
        h, w = adv.shape[-2:]
        out = [adv]
        for s in self.params.scales:
            noisy = adv + self.params.sigma * rng.randn(*adv.shape[1:]).to(adv)
            scaled = F.interpolate(noisy, size=(max(1, int(h * s)), max(1, int(w * s))),
                                   mode="bicubic", align_corners=False).clamp(0.0, 1.0)
            out.append(F.interpolate(scaled, size=(h, w), mode="bicubic", align_corners=False))
        return out

    def run(self, model: Any, batch: Batch, objective: Any, rng: Any) -> AttackOutput:
        p = self.params
        x = batch.images
        first = self.text_stage(model, batch, objective, rng)
        u, owner = embed_sets(model, paired_texts(model, batch, objective, first))

        def loss(adv):
            views = torch.cat(self.views(adv, rng))  # every view in one encoder pass
            emb = model.encode_image(views).float().view(-1, len(x), u.shape[-1])  # [V, B, D]
            cos = (emb[:, owner] * u).sum(dim=-1).sum(dim=0)  # each text, summed over views
            return -per_sample(cos, owner, len(x))

        adv = pgd_loop(x, random_start(x, rng, "linf", p.eps), loss, "linf", p.eps, p.steps,
                       p.step_size)
        final = self.text_stage(model, replace(batch, images=adv), objective, rng)
        queries = [a + b for a, b in zip(first.info.get("queries", []), final.info.get("queries", []),
                                         strict=True)]
        return joined(adv, final, **({"queries": queries} if queries else {}))
