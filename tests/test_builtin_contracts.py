"""The built-ins pass the contracts plugin authors run (mmeval.testing)."""

from mmeval.testing import AttackContract, ModelContract


class TestToyModel(ModelContract):
    model = "mmeval/toy-vlm"


class TestOpenCLIPModel(ModelContract):
    model = "openclip/mmeval-tiny-clip"


class TestZooCLIP(ModelContract):
    model = "zoo/tiny-clip-shapes"


class TestClean(AttackContract):
    attack = "clean"


class TestPGDLinf(AttackContract):
    attack = "mmeval/pgd"
    params = {"eps": 8 / 255, "steps": 3}


class TestPGDL2(AttackContract):
    attack = "mmeval/pgd"
    params = {"eps": 0.5, "norm": "l2", "steps": 3, "momentum": 0.5}
