"""plan(): the typed cell descriptions, the declared capability flags, and evaluate(plan) running
exactly the plan it is given."""

from typing import ClassVar

import pytest
from test_plugins import Shift, ShiftParams

import mmeval.planning
import mmeval.runner
from mmeval import (
    PluginHost,
    PluginLoadError,
    SpecError,
    ThreatModel,
    evaluate,
    hookimpl,
    plan,
)
from mmeval.testing import toy_spec


class Undeclared:
    """An attack class that does not inherit the base and forgets its capability flags."""

    Params = ShiftParams
    modality: ClassVar[str] = "image"
    objectives = None
    uses_gradients = False
    noop = False
    # `adaptive` is missing


class Local:
    @hookimpl
    def mmeval_register_attacks(self, registry):
        registry.add("local/nudge", Shift)
        registry.add("local/undeclared", Undeclared)


@pytest.fixture()
def bare() -> PluginHost:
    host = PluginHost(load_entry_points=False)
    host.register(Local(), "local")
    return host


def test_cells_carry_typed_descriptions(bare):
    spec = toy_spec(models=["mmeval/toy-vlm", {"name": "mmeval/toy-vlm", "params": {"seed": 1},
                                               "label": "toy-1"}],
                    attacks=["clean", {"name": "mmeval/pgd", "params": {"eps": 4 / 255, "steps": 2}},
                             {"name": "mmeval/pgd", "params": {"eps": 8 / 255, "steps": 2}},
                             {"name": "local/nudge", "source": {"name": "mmeval/toy-vlm",
                                                                "label": "toy-0"}}])
    the_plan = plan(spec, bare)
    assert the_plan.host is bare and len(the_plan.cells) == 8
    infos = [c.info for c in the_plan.cells[:4]]
    assert [i.role for i in infos] == ["clean", "white-box", "white-box", "transfer"]
    assert [i.eps for i in infos] == [0.0, 4 / 255, 8 / 255, 2 / 255]
    assert {i.objective_kind for i in infos} == {"classification"}
    assert infos[3].source == "toy-0" and infos[3].threat == ThreatModel("image", "linf", 2 / 255)
    # an eps sweep is one family; the transfer attack is not in it
    assert infos[1].sweep == infos[2].sweep and infos[1].sweep != infos[3].sweep
    assert infos[0].sweep is None
    assert [m.label for m in the_plan.metrics][:2] == ["clean-accuracy", "robust-accuracy"]
    assert mmeval.planning.CellInfo.from_json(infos[3].to_json()) == infos[3]


def test_stage_tree_and_default_labels(bare):
    the_plan = plan(toy_spec(attacks=[{"name": "local/nudge", "params": {"eps": 0.01}}]), bare)
    (cell,) = the_plan.cells
    assert cell.info.attack == "local/nudge(eps=0.01)" and cell.info.stages == ()
    assert cell.info.label == "mmeval/toy-vlm | none | mmeval/toy(n=40) | local/nudge(eps=0.01)"


def test_a_component_missing_a_declared_flag_is_refused_naming_it(bare):
    with pytest.raises(PluginLoadError, match=r"attacks\[0\].*local/undeclared.*`adaptive`"):
        plan(toy_spec(attacks=["local/undeclared"]), bare)


def test_evaluate_runs_the_plan_it_is_given_without_planning_again(bare, tmp_path, monkeypatch):
    the_plan = plan(toy_spec(attacks=["clean", "local/nudge"], output_dir=str(tmp_path / "r")), bare)
    monkeypatch.setattr(mmeval.planning, "plan", lambda *a, **k: pytest.fail("planned again"))
    monkeypatch.setattr(mmeval.runner, "plan", lambda *a, **k: pytest.fail("planned again"))
    result = evaluate(the_plan)
    assert [c["status"] for c in result.cells] == ["done", "done"]
    assert [c["role"] for c in result.cells] == ["clean", "white-box"]
    with pytest.raises(SpecError, match="to plan"):
        evaluate(the_plan, limit=3)


def test_overrides_apply_at_plan_time(bare, tmp_path):
    the_plan = plan(toy_spec(), bare, limit=5, out=tmp_path / "x")
    assert {c.task.limit for c in the_plan.cells} == {5}
    assert the_plan.run_dir == tmp_path / "x"
