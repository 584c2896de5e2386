"""Registers the weight defenses and Multi-Shield with its metrics and adaptive attack (imported on
first use)."""

from __future__ import annotations

import mmeval


@mmeval.hookimpl
def mmeval_register_defenses(registry) -> None:
    registry.add("defenses/ft-standard", "mmeval_defenses.ft_standard:FTStandard",
                 declared="mmeval_defenses.declared:FTStandardDeclared",
                 description="clean contrastive fine-tuning of both encoders (MMCoA's baseline)")
    registry.add("defenses/tecoa", "mmeval_defenses.tecoa:TeCoA",
                 declared="mmeval_defenses.declared:TeCoADeclared",
                 description="TeCoA (Mao et al. 2023): image encoder, CE over class prompts on PGD")
    registry.add("defenses/mmcoa", "mmeval_defenses.mmcoa:MMCoA",
                 declared="mmeval_defenses.declared:MMCoADeclared",
                 description="MMCoA (Zhou et al. 2024): both encoders, adv image + adv text losses")
    registry.add("defenses/fare", "mmeval_defenses.fare:FARE",
                 declared="mmeval_defenses.declared:FAREDeclared",
                 description="FARE (Schlarmann et al. 2024): unsupervised, embeddings held to the original")
    registry.add("defenses/mat", "mmeval_defenses.mat:MAT",
                 declared="mmeval_defenses.declared:MATDeclared",
                 description="MAT/MAT+ (Waseda et al.): image PGD + text attack, in-batch contrastive")
    registry.add("defenses/multi-shield", "mmeval_defenses.multi_shield:MultiShield",
                 declared="mmeval_defenses.declared:MultiShieldDeclared",
                 description="Multi-Shield (Villani et al. 2024): classifier + CLIP, rejects on disagreement")


@mmeval.hookimpl
def mmeval_register_attacks(registry) -> None:
    registry.add("multi-shield/adaptive-pgd", "mmeval_defenses.multi_shield:AdaptivePGD",
                 declared="mmeval_defenses.declared:AdaptivePGDDeclared",
                 description="adaptive PGD on CE(true) + CE(reject) against Multi-Shield")


@mmeval.hookimpl
def mmeval_register_metrics(registry) -> None:
    for name, attr in (("rejection-rate", "RejectionRate"),
                       ("robust-accuracy-with-rejection", "RobustAccuracyWithRejection")):
        target = f"mmeval_defenses.metrics:{attr}"  # light: its own declaration
        registry.add(f"defenses/{name}", target, declared=target, aliases=[name])
