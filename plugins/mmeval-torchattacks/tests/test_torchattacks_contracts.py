"""Every torchattacks attack passes mmeval's AttackContract on the toy world."""

from mmeval_torchattacks.plugin import ATTACKS

from mmeval.testing import AttackContract

FAST = {"apgd": {"steps": 3}, "apgdt": {"steps": 3}, "fab": {"steps": 3},
        "square": {"n_queries": 20}, "cw": {"steps": 5}, "deepfool": {"steps": 3},
        "onepixel": {"steps": 1, "popsize": 3}, "autoattack": {"eps": 4 / 255},
        "pgd": {"steps": 3}, "pgdl2": {"steps": 3}, "bim": {"steps": 3}, "tpgd": {"steps": 3},
        "mifgsm": {"steps": 3}, "difgsm": {"steps": 3}, "eotpgd": {"steps": 3}}

for _name in ATTACKS:
    _key = _name.lower()
    globals()[f"Test{_name}"] = type(f"Test{_name}", (AttackContract,), {
        "attack": f"torchattacks/{_key}", "params": FAST.get(_key, {})})
