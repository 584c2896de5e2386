"""Registers the joint image+text attacks and AdvCLIP (planning reads ``declared``; the attacks
load when a cell runs)."""

from __future__ import annotations

import mmeval


@mmeval.hookimpl
def mmeval_register_attacks(registry) -> None:
    registry.add("multimodal/sep-attack", "mmeval_multimodal.sep_attack:SepAttack",
                 declared="mmeval_multimodal.declared:SepAttackDeclared",
                 description="Sep-Attack: an image attack and a text attack run independently")
    registry.add("multimodal/co-attack", "mmeval_multimodal.co_attack:CoAttack",
                 declared="mmeval_multimodal.declared:CoAttackDeclared",
                 description="Co-Attack (Zhang et al. 2022): text first, then the image guided by it")
    registry.add("multimodal/sga", "mmeval_multimodal.sga:SGA",
                 declared="mmeval_multimodal.declared:SGADeclared",
                 description="SGA (Lu et al. 2023): set-level guidance, scale-invariant image set")
    registry.add("multimodal/advclip", "mmeval_multimodal.advclip:AdvCLIP",
                 declared="mmeval_multimodal.declared:AdvCLIPDeclared",
                 description="AdvCLIP (Zhou et al. 2023): a universal adversarial patch from a GAN")
