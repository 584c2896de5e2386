"""The text attacks pass mmeval's AttackContract (tiny CLIP on shapes, tiny MLM)."""

from mmeval.testing import AttackContract


class _OnShapes(AttackContract):
    model = "zoo/tiny-clip-shapes"
    dataset = "shapes"
    dataset_params = {"n": 4}


class TestBertAttackVLM(_OnShapes):
    attack = "textattack/bert-attack-vlm"


class TestBertAttackVLMClassPrompts(_OnShapes):
    attack = "textattack/bert-attack-vlm"
    params = {"mode": "class-prompts"}


class TestBertAttack(_OnShapes):
    attack = "textattack/bert-attack"


class TestDeepWordBug(_OnShapes):
    attack = "textattack/deepwordbug"


class TestPruthi(_OnShapes):
    attack = "textattack/pruthi"
