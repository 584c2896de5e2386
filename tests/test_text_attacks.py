"""The core's contract for text attacks: per-sample class-prompt sets and captions, word budgets."""

import torch

from mmeval import Attack, AttackOutput, Params, ThreatModel, evaluate, hookimpl
from mmeval.store import Store
from mmeval.testing import toy_spec


class RenameParams(Params):
    word: str = "banana"
    max_words: int = 1
    every: int = 1  # attack samples whose index in the batch is a multiple of this


class RenameTrueClass(Attack):
    """Replaces the class word in the prompt of each sample's true class (one word)."""

    Params = RenameParams
    modality = "text"

    @property
    def threat_model(self):
        return ThreatModel("text", max_words=self.params.max_words)

    def run(self, model, batch, objective, rng):
        sets = []
        for i, y in enumerate(batch.labels.tolist()):
            prompts = list(objective.prompts)
            if i % self.params.every == 0:
                prompts[y] = prompts[y].replace(objective.class_names[y], self.params.word)
            sets.append(tuple(prompts))
        return AttackOutput(prompts=tuple(sets))


class Plugin:
    @hookimpl
    def mmeval_register_attacks(self, registry):
        registry.add("test/rename", RenameTrueClass)


def run(host, tmp_path, params):
    host.register(Plugin(), "text-test")
    spec = toy_spec(attacks=["clean", {"name": "test/rename", "params": params}])
    spec["run"]["batch_size"] = 8
    return evaluate(spec, out=tmp_path, host=host)


def test_prompt_attack_is_scored_per_sample_and_recorded(host, tmp_path):
    result = run(host, tmp_path, {})
    clean, text = result.cells
    assert text["status"] == "done"
    assert text["metrics"]["clean-accuracy"] == clean["metrics"]["clean-accuracy"]
    assert text["metrics"]["robust-accuracy"]["value"] < 0.2  # the true class lost its name
    with Store(tmp_path) as store:
        records = store.records(text["id"])
    assert all(r.linf == 0 for r in records)  # images untouched
    r0 = records[0]
    assert r0.extra["adv_prompts"] == {str(r0.label): "This is a photo of a banana"}


def test_only_the_attacked_samples_change(host, tmp_path):
    result = run(host, tmp_path, {"every": 2})
    _clean, text = result.cells
    with Store(tmp_path) as store:
        records = store.records(text["id"])
    attacked = [r for r in records if r.extra.get("adv_prompts")]
    untouched = [r for r in records if not r.extra.get("adv_prompts")]
    assert attacked and untouched
    assert all(r.adv_correct == r.clean_correct for r in untouched)
    assert sum(r.adv_correct for r in attacked) < len(attacked) / 2


def test_word_budget_is_enforced(host, tmp_path):
    result = run(host, tmp_path, {"word": "big yellow banana", "max_words": 1})
    _, text = result.cells
    assert text["status"] == "failed" and "more than 1 words" in text["error"]


def test_prompt_embeddings_are_cached_per_cell(toy_model, toy_data, objective):
    sets = tuple(tuple(objective.prompts) for _ in range(4))
    calls = []
    encode = toy_model.encode_text

    def counting(texts):
        calls.append(len(texts))
        return encode(texts)

    toy_model.encode_text = counting
    feats = objective.prompt_features(toy_model, sets)
    assert calls == [] and feats.shape == (4, len(objective.prompts), 32)
    assert torch.equal(feats[0], objective.text_features)
    objective.prompt_features(toy_model, (("a banana", *objective.prompts[1:]),) * 4)
    objective.prompt_features(toy_model, (("a banana", *objective.prompts[1:]),))
    assert calls == [1]
