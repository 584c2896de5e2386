import json

import pytest

from mmeval import (
    EvalSpec,
    IncompatibleComponentsError,
    SpecError,
    UnknownComponentError,
    load_spec,
    plan,
)
from mmeval.testing import toy_spec


@pytest.fixture()
def no_model_builds(monkeypatch):
    """Fails the test if anything builds the toy model or dataset."""
    from mmeval.testing import toy

    def forbid(*a, **k):
        raise AssertionError("planning must not build components")

    monkeypatch.setattr(toy.ToyVLM, "__init__", forbid)
    monkeypatch.setattr(toy.ToyDataset, "__init__", forbid)


def test_load_py_and_json_give_the_same_spec(tmp_path):
    data = toy_spec()
    (tmp_path / "s.json").write_text(json.dumps(data))
    (tmp_path / "s.py").write_text(f"SPEC = {data!r}\nOTHER = dict(SPEC, name='other')\n")
    a, b = load_spec(tmp_path / "s.json"), load_spec(tmp_path / "s.py")
    assert a == b and a.spec_hash() == b.spec_hash()
    assert load_spec(f"{tmp_path / 's.py'}:OTHER").name == "other"


def test_string_shorthand_for_components():
    spec = EvalSpec.model_validate(toy_spec(tasks=["mmeval/toy"], attacks=["clean"]))
    assert spec.tasks[0].dataset.name == "mmeval/toy"
    assert spec.tasks[0].objective.name == "zero-shot"


@pytest.mark.parametrize("mutate,path", [
    (lambda s: s["run"].update(batchsize=3), "run.batchsize"),
    (lambda s: s["attacks"][1]["params"].update(eps=-1.0), "attacks[1].params.eps"),
    (lambda s: s["attacks"][1]["params"].update(epsilon=0.1), "attacks[1].params.epsilon"),
    (lambda s: s["tasks"][0]["dataset"]["params"].update(n="many"), "tasks[0].dataset.params.n"),
    (lambda s: s["models"][0].update(pretrained="x"), "models[0].pretrained"),
    (lambda s: s.update(models=[]), "models"),
    (lambda s: s["run"].update(device="gpu7"), "run.device"),
    (lambda s: s["tasks"][0].update(limit=0), "tasks[0].limit"),
])
def test_bad_fields_fail_with_the_field_path(mutate, path, no_model_builds):
    spec = toy_spec()
    mutate(spec)
    with pytest.raises(SpecError) as info:
        plan(spec)
    assert info.value.path == path
    assert str(info.value).startswith(f"{path}: ")


def test_unknown_names_fail_with_path_and_suggestion(no_model_builds):
    spec = toy_spec(attacks=["clean", {"name": "mmeval/pgdd"}])
    with pytest.raises(UnknownComponentError, match=r"attacks\[1\]\.name: .*did you mean"):
        plan(spec)
    spec = toy_spec(metrics=["robust-acuracy"])
    with pytest.raises(UnknownComponentError, match="metrics.0..name.*robust-accuracy"):
        plan(spec)


def test_spec_file_errors_are_spec_errors(tmp_path):
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "nope.py")
    (tmp_path / "empty.py").write_text("x = 1\n")
    with pytest.raises(SpecError, match="defines no 'SPEC'"):
        load_spec(tmp_path / "empty.py")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(SpecError, match="not valid JSON"):
        load_spec(tmp_path / "bad.json")
    (tmp_path / "typo.py").write_text(
        "from mmeval import EvalSpec\nSPEC = EvalSpec(models=['m'], tasks=['t'], attacks=['a'], "
        "rn={})\n")
    with pytest.raises(SpecError, match="^rn: unknown field"):
        load_spec(tmp_path / "typo.py")


def test_plan_expands_the_grid_with_stable_ids(no_model_builds):
    spec = toy_spec(
        models=[{"name": "mmeval/toy-vlm"}, {"name": "mmeval/toy-vlm", "params": {"seed": 1}}],
        tasks=[{"dataset": "mmeval/toy"}, {"dataset": {"name": "mmeval/toy",
                                                      "params": {"num_classes": 5}}}],
    )
    p = plan(spec)
    assert len(p.cells) == 2 * 2 * 2
    assert len({c.id for c in p.cells}) == 8
    # ids depend on definitions only: reordering the attacks keeps them
    reordered = dict(spec, attacks=list(reversed(spec["attacks"])))
    assert {c.id for c in plan(reordered).cells} == {c.id for c in p.cells}
    # a different seed is a different experiment
    other = dict(spec, run={**spec["run"], "seed": 7})
    assert not {c.id for c in plan(other).cells} & {c.id for c in p.cells}
    assert len({c.group for c in p.cells}) == 4


def test_duplicate_cells_are_rejected():
    spec = toy_spec(attacks=["clean", "mmeval/clean"])
    with pytest.raises(SpecError, match="duplicates"):
        plan(spec)


def test_incompatible_attack_and_objective_is_rejected_by_plan(host):
    from mmeval import hookimpl
    from mmeval.attacks.clean import Clean

    class RetrievalOnly(Clean):
        objectives = ("retrieval",)

    class P:
        @hookimpl
        def mmeval_register_attacks(self, registry):
            registry.add("test/retrieval-only", RetrievalOnly)

    host.register(P(), "p")
    with pytest.raises(IncompatibleComponentsError, match=r"attacks\[0\].*classification"):
        plan(toy_spec(attacks=["test/retrieval-only"]), host)
