"""Every torchattacks attack passes mmeval's AttackContract on the toy world (PGDL2 on the tiny
CLIP: the toy's saturated cross-entropy leaves L2-normalized gradient steps almost nothing)."""

from mmeval_torchattacks.plugin import ATTACKS

from mmeval.testing import AttackContract

# each at a budget where it lowers the victim's accuracy (the contract checks that it does)
FAST = {"apgd": {"steps": 3}, "apgdt": {"steps": 3}, "fab": {"steps": 3},
        "square": {"n_queries": 50, "eps": 32 / 255}, "cw": {"steps": 5}, "deepfool": {"steps": 3},
        "onepixel": {"steps": 3, "popsize": 20, "pixels": 30}, "autoattack": {"eps": 4 / 255},
        "pgd": {"steps": 3}, "pgdl2": {"steps": 3}, "bim": {"steps": 3}, "tpgd": {"steps": 3},
        "mifgsm": {"steps": 3}, "difgsm": {"steps": 3}, "eotpgd": {"steps": 3},
        "gn": {"std": 0.5}, "rfgsm": {"steps": 3}, "upgd": {"steps": 3}, "nifgsm": {"steps": 3},
        "sinifgsm": {"steps": 3, "m": 2}, "vmifgsm": {"steps": 3, "N": 2},
        "vnifgsm": {"steps": 3, "N": 2},
        "tifgsm": {"steps": 5, "len_kernel": 3, "eps": 16 / 255, "alpha": 4 / 255},
        "pifgsm": {"num_iter_set": 3}, "pifgsmpp": {"num_iter_set": 3}, "jitter": {"steps": 3},
        "pgdrs": {"steps": 3, "noise_batch_size": 2, "noise_sd": 0.01},
        "pgdrsl2": {"steps": 3, "noise_batch_size": 2, "noise_sd": 0.01},
        "spsa": {"eps": 16 / 255, "nb_sample": 32, "nb_iter": 10, "lr": 0.05},
        "sparsefool": {"steps": 3}, "pixle": {"restarts": 10, "max_iterations": 10},
        "eadl1": {"binary_search_steps": 3, "max_iterations": 30, "initial_const": 1.0},
        "eaden": {"binary_search_steps": 3, "max_iterations": 30, "initial_const": 1.0}}

ZOO = {"model": "zoo/tiny-clip-shapes", "dataset": "shapes"}
VICTIM = {"pgdl2": ZOO, "pgdrsl2": ZOO}

for _name in ATTACKS:
    _key = _name.lower()
    globals()[f"Test{_name}"] = type(f"Test{_name}", (AttackContract,), {
        "attack": f"torchattacks/{_key}", "params": FAST.get(_key, {}), **VICTIM.get(_key, {})})
