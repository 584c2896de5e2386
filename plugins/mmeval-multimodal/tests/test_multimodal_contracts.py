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
    params = {"steps": 5, "eps": 8 / 255}  # a 4-image gallery needs more than 2/255 to flip


class TestAdvCLIP(_OnShapes):
    attack = "multimodal/advclip"
    params = {"train_dataset": {"name": "shapes", "params": {"n": 8, "seed": 7}}, "epochs": 1,
              "batch_size": 4}
