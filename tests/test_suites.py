"""Suites: a registered list of datasets that plan() expands into one task per member (checked
like tasks of their own, failures reported together), carried into every CellInfo and rendered as
one table with an average column; components' preflight runs at plan time."""

from typing import ClassVar

import pytest
from pydantic import Field

from mmeval import (
    DataError,
    IncompatibleComponentsError,
    Params,
    PluginHost,
    SpecError,
    SuiteMember,
    average,
    evaluate,
    hookimpl,
    plan,
    wilson,
)
from mmeval.testing import toy_spec
from mmeval.testing.toy import ToyDataset


class SeedsParams(Params):
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2])
    n: int = 12


class ToySeeds:
    """A suite of toy datasets, one per sample seed."""

    Params = SeedsParams
    objective_kind: ClassVar[str] = "classification"

    def __init__(self, params: SeedsParams) -> None:
        self.params = params

    def datasets(self):
        return [SuiteMember(f"seed{s}", "mmeval/toy", {"n": self.params.n, "sample_seed": s})
                for s in self.params.seeds]


class Checked(ToyDataset):
    """A toy dataset whose preflight refuses an odd sample seed, as a missing root would be."""

    @classmethod
    def preflight(cls, params) -> None:
        if params.sample_seed % 2:
            raise DataError(f"no data for seed {params.sample_seed}; expected an even one")


class Local:
    @hookimpl
    def mmeval_register_suites(self, registry):
        registry.add("local/seeds", ToySeeds)

    @hookimpl
    def mmeval_register_datasets(self, registry):
        registry.add("local/checked", Checked)


@pytest.fixture()
def host() -> PluginHost:
    host = PluginHost()
    host.register(Local(), "local")
    return host


def test_a_suite_expands_into_one_task_per_dataset(host):
    spec = toy_spec(tasks=[{"suite": "local/seeds"}, {"dataset": "mmeval/toy", "label": "alone"}])
    the_plan = plan(spec, host)
    tasks = list({c.task.index: c.task for c in the_plan.cells}.values())
    assert [(t.label, t.suite) for t in tasks] == [
        ("seed0", "local/seeds"), ("seed1", "local/seeds"), ("seed2", "local/seeds"),
        ("alone", None)]
    assert [t.dataset.path for t in tasks[:3]] == [f"tasks[0].suite[seed{s}]" for s in range(3)]
    assert tasks[1].dataset.params.sample_seed == 1
    assert {c.info.suite for c in the_plan.cells} == {"local/seeds", None}
    assert len(the_plan.cells) == 4 * 2


def test_a_suite_with_a_label_names_its_table(host):
    the_plan = plan(toy_spec(tasks=[{"suite": "local/seeds", "label": "toys"}]), host)
    assert {c.info.suite for c in the_plan.cells} == {"toys"}


def test_bad_suites_fail_at_plan_time_with_the_field_path(host):
    with pytest.raises(SpecError, match=r"tasks\[0\]: .*either a `dataset` or a `suite`"):
        plan(toy_spec(tasks=[{"dataset": "mmeval/toy", "suite": "local/seeds"}]), host)
    with pytest.raises(SpecError, match=r"tasks\[0\]\.suite\.name: unknown suite"):
        plan(toy_spec(tasks=[{"suite": "local/seedz"}]), host)
    with pytest.raises(IncompatibleComponentsError, match="holds classification datasets"):
        plan(toy_spec(tasks=[{"suite": "local/seeds", "objective": "retrieval"}]), host)


def test_every_failing_member_is_reported_at_once(host):
    class Odd(ToySeeds):
        def datasets(self):
            return [SuiteMember(f"seed{s}", "local/checked", {"sample_seed": s})
                    for s in self.params.seeds]

    class More:
        @hookimpl
        def mmeval_register_suites(self, registry):
            registry.add("local/odd", Odd)

    host.register(More(), "more")
    with pytest.raises(SpecError) as err:
        plan(toy_spec(tasks=[{"suite": {"name": "local/odd", "params": {"seeds": [0, 1, 2, 3]}}}]),
             host)
    msg = str(err.value)
    assert msg.startswith("tasks[0].suite: 2 of the 4 datasets of suite 'local/odd' cannot be used")
    assert "tasks[0].suite[seed1].params: no data for seed 1; expected an even one" in msg
    assert "tasks[0].suite[seed3].params: no data for seed 3" in msg and "seed2]" not in msg


def test_preflight_of_a_plain_task_is_a_spec_error_at_its_params(host):
    with pytest.raises(SpecError, match=r"^tasks\[0\]\.dataset\.params: no data for seed 3"):
        plan(toy_spec(tasks=[{"dataset": {"name": "local/checked", "params": {"sample_seed": 3}}}]),
             host)


def test_the_report_shows_the_suite_table_with_the_average(host, tmp_path):
    spec = toy_spec(tasks=[{"suite": "local/seeds"}], output_dir=str(tmp_path / "run"))
    result = evaluate(spec, host=host)
    report = (tmp_path / "run" / "report.md").read_text()
    assert "| model | defense | attack | seed0 | seed1 | seed2 | average |" in report
    for cell in (c for c in result.cells if c["task"] == "seed0"):
        values = [result.metric("robust-accuracy", task=f"seed{s}", attack=cell["attack"])
                  for s in range(3)]
        mean = average(values)
        assert mean.value == pytest.approx(sum(v.value for v in values) / 3)
        assert f"| {100 * mean.value:.1f} [{100 * mean.low:.1f}, {100 * mean.high:.1f}] |" in report
    assert result.cells[0]["suite"] == "local/seeds"
    html = (tmp_path / "run" / "report.html").read_text()
    assert "local/seeds · robust-accuracy" in html


def test_average_combines_the_intervals():
    a, b = wilson(30, 100), wilson(80, 100)
    mean = average([a, b])
    assert mean.value == pytest.approx(0.55) and mean.n == 200
    half = ((a.high - a.low) ** 2 + (b.high - b.low) ** 2) ** 0.5 / 4  # sqrt(sum se^2) z / k
    assert (mean.high - mean.low) / 2 == pytest.approx(half, rel=1e-9)
    assert mean.high - mean.low < min(a.high - a.low, b.high - b.low)  # averaging narrows
    assert average([wilson(0, 5), wilson(0, 5)]).low == 0.0  # clipped to [0, 1]
