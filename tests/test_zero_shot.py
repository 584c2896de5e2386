"""The zero-shot objective's prompts: one template (TeCoA's, class names cleaned) or an ensemble
(CLIP's recipe: the mean of normalized prompt embeddings, renormalized) from a list, the
dataset's own templates or open_clip's OpenAI sets; class-prompt text attacks replace one prompt
of the ensemble."""

import pytest
import torch
import torch.nn.functional as F

from mmeval import DataError, SpecError, plan
from mmeval.objectives.zero_shot import ZeroShotClassification, ZeroShotParams
from mmeval.testing import toy_spec


def _objective(model, dataset, **params) -> ZeroShotClassification:
    obj = ZeroShotClassification(ZeroShotParams(**params))
    obj.prepare(model, dataset)
    return obj


def test_single_template_is_the_prompts_embedding(toy_model, toy_data):
    obj = _objective(toy_model, toy_data)
    assert obj.prompts[0] == f"This is a photo of a {toy_data.class_names[0].lower()}"
    assert torch.equal(obj.text_features, toy_model.encode_text(list(obj.prompts)).float())


def test_an_ensemble_averages_normalized_prompt_embeddings(toy_model, toy_data):
    templates = ["a {} photo", "the {c}", "one {} more"]
    obj = _objective(toy_model, toy_data, templates=templates)
    name = toy_data.class_names[3]  # verbatim: ensembles do not clean names by default
    prompts = [t.replace("{c}", name).replace("{}", name) for t in templates]
    assert obj.ensembles[3] == tuple(prompts) and obj.prompts[3] == prompts[0]
    expected = F.normalize(F.normalize(toy_model.encode_text(prompts).float(), dim=-1).mean(0),
                           dim=0)
    assert torch.allclose(obj.text_features[3], expected, atol=1e-6)
    assert not torch.allclose(obj.text_features[3], obj.prompt_features(
        toy_model, ((prompts[1],) * 10,))[0, 3])


def test_text_attack_prompts_replace_the_first_prompt_of_the_ensemble(toy_model, toy_data):
    obj = _objective(toy_model, toy_data, templates=["a {}", "the {}"])
    same = obj.prompt_features(toy_model, (obj.prompts,))[0]
    assert torch.allclose(same, obj.text_features, atol=1e-6)
    adv = list(obj.prompts)
    adv[2] = "a completely different prompt"
    feats = obj.prompt_features(toy_model, (tuple(adv),))[0]
    second = toy_model.encode_text([obj.ensembles[2][1]]).float()[0]
    mine = toy_model.encode_text([adv[2]]).float()[0]
    assert torch.allclose(feats[2], F.normalize(mine + second, dim=0), atol=1e-6)
    assert torch.allclose(feats[5], obj.text_features[5], atol=1e-6)


def test_named_sets_and_the_datasets_own(toy_model, toy_data):
    obj = _objective(toy_model, toy_data, templates="openai-imagenet")
    assert len(obj.ensembles[0]) == 80 and obj.prompts[0].startswith("a bad photo of a ")
    assert len(_objective(toy_model, toy_data, templates="openai-imagenet-simple").ensembles[0]) == 7
    with pytest.raises(DataError, match="the dataset has no templates"):
        _objective(toy_model, toy_data, templates="dataset")
    toy_data.templates = ["{c}, drawn", "{c}, painted"]
    assert _objective(toy_model, toy_data, templates="dataset").ensembles[1] == (
        f"{toy_data.class_names[1]}, drawn", f"{toy_data.class_names[1]}, painted")
    toy_data.templates = {n: [f"{n}!"] for n in toy_data.class_names}  # class-specific (CuPL)
    assert _objective(toy_model, toy_data, templates="dataset").prompts[4] == (
        f"{toy_data.class_names[4]}!")
    assert _objective(toy_model, toy_data, templates=["a {}"], clean_names=True).prompts[0] == (
        f"a {toy_data.class_names[0].lower()}")


@pytest.mark.parametrize(("params", "message"), [
    ({"template": "x {}", "templates": ["a {}"]}, "give `template` or `templates`, not both"),
    ({"templates": []}, "at least one template"),
    ({"templates": ["no slot"]}, "exactly one"),
    ({"templates": "openai"}, "templates"),
])
def test_bad_templates_fail_at_plan_time(params, message):
    spec = toy_spec(tasks=[{"dataset": "mmeval/toy",
                            "objective": {"name": "zero-shot", "params": params}}])
    with pytest.raises(SpecError, match=message) as err:
        plan(spec)
    assert str(err.value).startswith("tasks[0].objective.params")
