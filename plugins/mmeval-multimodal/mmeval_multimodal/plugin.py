"""Registers the joint image+text attacks and AdvCLIP (imported on first use)."""

from __future__ import annotations

import mmeval


@mmeval.hookimpl
def mmeval_register_attacks(registry) -> None:
    registry.add("multimodal/sep-attack", "mmeval_multimodal.sep_attack:SepAttack",
                 description="Sep-Attack: an image attack and a text attack run independently")
    registry.add("multimodal/co-attack", "mmeval_multimodal.co_attack:CoAttack",
                 description="Co-Attack (Zhang et al. 2022): text first, then the image guided by it")
    registry.add("multimodal/sga", "mmeval_multimodal.sga:SGA",
                 description="SGA (Lu et al. 2023): set-level guidance, scale-invariant image set")
    registry.add("multimodal/advclip", "mmeval_multimodal.advclip:AdvCLIP",
                 description="AdvCLIP (Zhou et al. 2023): a universal adversarial patch from a GAN")
