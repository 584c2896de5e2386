"""Registers every wrapped attack as ``torchattacks/<name>`` (targets are imported on first use)."""

from __future__ import annotations

import mmeval

ATTACKS = ("FGSM", "BIM", "PGD", "PGDL2", "TPGD", "MIFGSM", "DIFGSM", "EOTPGD", "APGD", "APGDT",
           "FAB", "Square", "AutoAttack", "CW", "DeepFool", "JSMA", "OnePixel")


@mmeval.hookimpl
def mmeval_register_attacks(registry) -> None:
    for name in ATTACKS:
        registry.add(f"torchattacks/{name.lower()}", f"mmeval_torchattacks.catalogue:{name}",
                     description=f"torchattacks.{name} through the objective's classifier view")
