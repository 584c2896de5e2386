"""Offline TextAttack recipes, and recipes that need downloads refused before any compute."""

import pytest

from mmeval import SpecError, Store, evaluate, plan


def test_deepwordbug_and_pruthi_run_with_mmeval_goals(tmp_path):
    spec = {"name": "recipes", "models": ["zoo/tiny-clip-shapes"],
            "tasks": [{"dataset": {"name": "shapes", "params": {"n": 6, "classes": "shape"}}}],
            "attacks": ["clean", "textattack/deepwordbug", "textattack/pruthi"],
            "metrics": ["robust-accuracy", "words-perturbed", "queries"],
            "run": {"batch_size": 6, "progress": False}}
    result = evaluate(spec, out=tmp_path / "a")
    assert {c["status"] for c in result.cells} == {"done"}, [c["error"] for c in result.cells]
    for attack in ("textattack/deepwordbug", "textattack/pruthi"):
        assert result.metric("queries", attack=attack).value > 0
    again = evaluate(spec, out=tmp_path / "b")  # seeded character edits: reproducible
    with Store(result.run_dir) as a, Store(again.run_dir) as b:
        for c in result.cells:
            assert [r.extra for r in a.records(c["id"])] == [r.extra for r in b.records(c["id"])]
    with Store(result.run_dir) as store:
        pruthi = store.records(result.cells[2]["id"])
    assert all(r.extra["words_changed"] <= 1 for r in pruthi)  # the recipe's one-word budget


@pytest.mark.parametrize("name,why", [("textfooler", "Universal Sentence Encoder"),
                                      ("pwws", "WordNet"), ("nonsense", "no TextAttack recipe")])
def test_recipes_needing_downloads_fail_in_plan(name, why, monkeypatch):
    from mmeval.testing import ToyVLM

    monkeypatch.setattr(ToyVLM, "__init__", lambda *a: pytest.fail("model built"))
    spec = {"models": ["mmeval/toy-vlm"], "tasks": ["mmeval/toy"], "attacks": [f"textattack/{name}"]}
    with pytest.raises(SpecError, match=rf"attacks\[0\]\.name: .*{why}"):
        plan(spec)
