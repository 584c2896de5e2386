"""What a user's CI looks like: robustness checks as pytest tests.

    pytest examples/test_robustness_example.py [--mmeval-max-samples 100]

The tiny CLIP fine-tuned with TeCoA (trained once per session, about 10 s on CPU) must keep
robust accuracy of at least 45% under PGD-10 at eps 2/255 — judged on the 95% interval's lower
bound, so it passes on evidence. The undefended tiny CLIP fails the same check (an expected
failure, strict: if it ever passed, the check would be too weak to mean anything).
"""

from __future__ import annotations

import pytest

from mmeval import train
from mmeval.testing import assert_metric

EPS = 2 / 255
THRESHOLD = 0.45
PGD = {"name": "mmeval/pgd", "params": {"eps": EPS, "steps": 10}, "label": "pgd"}


@pytest.fixture(scope="session")
def tecoa_checkpoint(tmp_path_factory) -> str:
    result = train({
        "model": {"name": "zoo/tiny-clip-shapes"},
        "dataset": {"name": "shapes", "params": {"n": 2000, "seed": 5000}},
        "defense": "defenses/tecoa", "epochs": 2, "batch_size": 64,
        "optimizer": {"name": "sgd", "lr": 1e-3, "momentum": 0.9}, "progress": False,
        "output_dir": str(tmp_path_factory.mktemp("tecoa"))})
    return result.model["params"]["pretrained"]


def spec(defenses: list) -> dict:
    return {"name": "robustness-check",
            "models": [{"name": "zoo/tiny-clip-shapes", "defenses": defenses,
                        "include_undefended": not defenses}],
            "tasks": [{"dataset": {"name": "shapes", "params": {"n": 200}}}],
            "attacks": [PGD], "metrics": ["clean-accuracy", "robust-accuracy"],
            "run": {"batch_size": 100}}


@pytest.mark.robustness(model="tiny CLIP + TeCoA", attack="pgd", eps=EPS)
def test_defended_clip_keeps_robust_accuracy(mmeval_evaluate, tecoa_checkpoint):
    defense = {"name": "defenses/tecoa", "label": "TeCoA",
               "params": {"checkpoint": tecoa_checkpoint}}
    result = mmeval_evaluate(spec([defense]))
    assert_metric(result, "robust-accuracy", ">=", THRESHOLD, cell={"defense": "TeCoA"})


@pytest.mark.robustness(model="tiny CLIP", attack="pgd", eps=EPS)
@pytest.mark.xfail(strict=True, reason="the undefended tiny CLIP is not robust at 2/255")
def test_undefended_clip_fails_the_same_check(mmeval_evaluate):
    result = mmeval_evaluate(spec([]))
    assert_metric(result, "robust-accuracy", ">=", THRESHOLD, cell={"defense": "none"})
