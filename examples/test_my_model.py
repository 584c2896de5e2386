"""Robustness checks of a model defined in your own code, no plugin needed.

    pytest examples/test_my_model.py

``MyCLIP`` stands in for the model of your repository: any object with the VLModel attributes
(``input_specs``, ``capabilities``, ``logit_scale``, ``encode_image``, ``encode_text``, ``eval``,
``train``, ``parameters``; docs/writing-plugins.md) is evaluated by passing it to
``mmeval_evaluate(spec, models={"label": obj})``. Here it is the offline zoo's tiny open_clip
CLIP behind our own class; a model already built with open_clip or transformers can instead be
wrapped with ``mmeval.wrap_open_clip(model, tokenizer)`` or ``mmeval.wrap_hf(model, processor)``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import mmeval
from mmeval.testing import assert_metric

SPEC = {"name": "my-model", "tasks": [{"dataset": {"name": "shapes", "params": {"n": 100}}}],
        "attacks": ["clean", {"name": "mmeval/pgd", "params": {"eps": 4 / 255, "steps": 10},
                              "label": "pgd"}],
        "metrics": ["clean-accuracy", "robust-accuracy"], "run": {"batch_size": 50}}


class MyCLIP(torch.nn.Module):
    """A CLIP-like model of our own: [0, 1] images in, normalized inside, unit embeddings out."""

    capabilities = frozenset({"image", "text"})

    def __init__(self) -> None:
        super().__init__()
        zoo = mmeval.load_zoo("tiny-clip-shapes")  # the weights of "our" model
        self.clip, self.tokenizer = zoo.model, zoo.tokenizer
        cfg = self.clip.visual.preprocess_cfg
        self.input_specs = {"image": mmeval.ImageSpec((48, 48), tuple(cfg["mean"]),
                                                      tuple(cfg["std"]))}
        self.register_buffer("mean", torch.tensor(cfg["mean"]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(cfg["std"]).view(1, 3, 1, 1))

    @property
    def logit_scale(self) -> float:
        return float(self.clip.logit_scale.detach().exp())

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.clip.encode_image((images - self.mean) / self.std), dim=-1)

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        return F.normalize(self.clip.encode_text(self.tokenizer(list(texts))), dim=-1)


@pytest.fixture(scope="module")
def my_model() -> MyCLIP:
    return MyCLIP().eval()


def test_my_model_is_accurate_and_pgd_hurts_it(mmeval_evaluate, my_model):
    result = mmeval_evaluate(SPEC, models={"mine": my_model})
    assert_metric(result, "clean-accuracy", ">=", 0.6, cell={"attack": "clean"})
    clean = result.metric("clean-accuracy", attack="pgd").value
    assert result.metric("robust-accuracy", attack="pgd").value < clean


def test_the_same_weights_wrapped_from_open_clip_score_the_same(mmeval_evaluate, my_model):
    wrapped = mmeval.wrap_open_clip(my_model.clip, my_model.tokenizer)
    both = mmeval_evaluate(SPEC, models={"mine": my_model, "wrapped": wrapped})
    for label in ("mine", "wrapped"):
        assert both.metric("clean-accuracy", model=label, attack="clean").value == \
            both.metric("clean-accuracy", model="mine", attack="clean").value
