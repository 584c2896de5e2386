"""Registers every wrapped attack as ``torchattacks/<name>``: planning reads the light declarations
in ``catalogue``; the attacks (``attacks``, which import torchattacks) load when a cell runs."""

from __future__ import annotations

import mmeval

ATTACKS = ("FGSM", "BIM", "PGD", "PGDL2", "TPGD", "MIFGSM", "DIFGSM", "EOTPGD", "APGD", "APGDT",
           "FAB", "Square", "AutoAttack", "CW", "DeepFool", "JSMA", "OnePixel", "VANILA", "GN",
           "RFGSM", "FFGSM", "UPGD", "NIFGSM", "SINIFGSM", "VMIFGSM", "VNIFGSM", "TIFGSM",
           "PIFGSM", "PIFGSMPP", "Jitter", "PGDRS", "PGDRSL2", "SPSA", "SparseFool", "Pixle",
           "EADL1", "EADEN")
#: torchattacks' attack classes that do not apply to a VLM task (plan() says why)
REFUSED = ("LGV", "MultiAttack")


@mmeval.hookimpl
def mmeval_register_attacks(registry) -> None:
    for name in ATTACKS:
        registry.add(f"torchattacks/{name.lower()}", f"mmeval_torchattacks.attacks:{name}",
                     declared=f"mmeval_torchattacks.catalogue:{name}",
                     description=f"torchattacks.{name} through the objective's classifier view")
    for name in REFUSED:
        registry.add(f"torchattacks/{name.lower()}", f"mmeval_torchattacks.attacks:{name}",
                     declared=f"mmeval_torchattacks.catalogue:{name}",
                     description=f"torchattacks.{name}: refused at plan time (see its reason)")
