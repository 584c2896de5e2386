"""The joint attacks and AdvCLIP pass mmeval's AttackContract (tiny CLIP on shapes)."""

from mmeval.testing import AttackContract


class _OnShapes(AttackContract):
    model = "zoo/tiny-clip-shapes"
    dataset = "shapes"
    dataset_params = {"n": 4}


class TestSepAttack(_OnShapes):
    attack = "multimodal/sep-attack"


class TestCoAttack(_OnShapes):
    attack = "multimodal/co-attack"
    params = {"steps": 3}


class TestSGA(_OnShapes):
    attack = "multimodal/sga"
    params = {"steps": 3}


class TestSGARetrieval(TestSGA):
    objective = "retrieval"
    # retrieval's top-1 over a small gallery flips only under a larger budget
    params = {"steps": 10, "eps": 16 / 255}
    dataset_params = {"n": 8}


class TestAdvCLIP(_OnShapes):
    attack = "multimodal/advclip"
    params = {"train_dataset": {"name": "shapes", "params": {"n": 16, "seed": 7}}, "epochs": 3,
              "batch_size": 8}
    dataset_params = {"n": 8}
