"""Every torchattacks attack passes mmeval's AttackContract on the toy world (PGDL2 on the tiny
CLIP: the toy's saturated cross-entropy leaves L2-normalized gradient steps almost nothing)."""

from mmeval_torchattacks.plugin import ATTACKS

from mmeval.testing import AttackContract

# each at a budget where it lowers the victim's accuracy (the contract checks that it does)
FAST = {"apgd": {"steps": 3}, "apgdt": {"steps": 3}, "fab": {"steps": 3},
        "square": {"n_queries": 50, "eps": 32 / 255}, "cw": {"steps": 5}, "deepfool": {"steps": 3},
        "onepixel": {"steps": 3, "popsize": 20, "pixels": 30}, "autoattack": {"eps": 4 / 255},
        "pgd": {"steps": 3}, "pgdl2": {"steps": 3}, "bim": {"steps": 3}, "tpgd": {"steps": 3},
        "mifgsm": {"steps": 3}, "difgsm": {"steps": 3}, "eotpgd": {"steps": 3}}

VICTIM = {"pgdl2": {"model": "zoo/tiny-clip-shapes", "dataset": "shapes"}}

for _name in ATTACKS:
    _key = _name.lower()
    globals()[f"Test{_name}"] = type(f"Test{_name}", (AttackContract,), {
        "attack": f"torchattacks/{_key}", "params": FAST.get(_key, {}), **VICTIM.get(_key, {})})
