"""Every defense passes mmeval's DefenseContract; the adaptive attack its AttackContract."""

from mmeval.testing import AttackContract, DefenseContract


class TestFTStandard(DefenseContract):
    defense = "defenses/ft-standard"


class TestTeCoA(DefenseContract):
    defense = "defenses/tecoa"


class TestMMCoA(DefenseContract):
    defense = "defenses/mmcoa"


class TestFARE(DefenseContract):
    defense = "defenses/fare"


class TestMAT(DefenseContract):
    defense = "defenses/mat"
    params = {"image_attack": {"name": "mmeval/pgd",
                               "params": {"eps": 2 / 255, "steps": 2, "step_size": 1 / 255}},
              "text_attack": "textattack/bert-attack-vlm"}
    dataset = "shapes"
    dataset_params = {"n": 8}


class TestMultiShield(DefenseContract):
    defense = "defenses/multi-shield"
    model = "zoo/tiny-clip-shapes"
    dataset = "shapes"


class TestAdaptivePGD(AttackContract):
    attack = "multi-shield/adaptive-pgd"
    params = {"eps": 8 / 255, "steps": 3}
