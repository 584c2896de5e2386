"""The transfer setting: an attack crafted on a source model, scored on the spec's models."""

import pytest

from mmeval import SpecError, evaluate, plan
from mmeval.store import Store

SOURCE = {"name": "mmeval/toy-vlm", "params": {"embed_dim": 24}, "label": "toy-24"}
PGD = {"name": "mmeval/pgd", "params": {"eps": 4 / 255, "steps": 10}}


def spec(**kw):
    return {"name": "transfer",
            "models": [{"name": "mmeval/toy-vlm", "label": "toy-32"}, SOURCE],
            "tasks": [{"dataset": "mmeval/toy", "limit": 100}],
            "attacks": ["clean", {**PGD, "label": "pgd"}, {**PGD, "source": SOURCE}],
            "metrics": ["clean-accuracy", "robust-accuracy", "attack-success-rate"],
            "run": {"batch_size": 50, "progress": False}, **kw}


def test_transfer_cells_are_crafted_on_the_source(tmp_path):
    result = evaluate(spec(), out=tmp_path)
    assert {c["status"] for c in result.cells} == {"done"}, [c["error"] for c in result.cells]
    transfer = "mmeval/pgd(eps=0.01569, steps=10) from toy-24"
    assert {c["attack"] for c in result.cells} == {"clean", "pgd", transfer}
    acc = {(c["model"], c["attack"]): c["metrics"]["robust-accuracy"]["value"] for c in result.cells}
    # on the source itself the transferred attack is white-box: as strong as the white-box cell
    assert acc["toy-24", transfer] == pytest.approx(acc["toy-24", "pgd"], abs=0.1)
    # on another model it is much weaker than a white-box attack on that model
    assert acc["toy-32", transfer] > acc["toy-32", "pgd"] + 0.2
    with Store(tmp_path) as store:
        for c in result.cells:
            for r in store.records(c["id"]):
                if c["attack"] == transfer:
                    assert (r.extra["source"], r.extra["target"]) == ("toy-24", c["model"])
                else:
                    assert "source" not in r.extra
    report = (tmp_path / "report.md").read_text()
    table = report[report.index("## transfer"):]
    assert "| source \\ target | toy-32 | toy-24 |" in table
    assert "| toy-24 | " in table and "| toy-32 | " in table


def test_source_is_resolved_before_any_compute():
    bad = spec()
    bad["attacks"][2] = {**PGD, "source": {"name": "mmeval/toy-vml"}}
    with pytest.raises(SpecError, match="did you mean") as err:
        plan(bad)
    assert err.value.path == "attacks[2].source.name"


def test_cell_ids_of_attacks_without_source_are_unchanged():
    cells = plan(spec()).cells
    same = plan({**spec(), "attacks": ["clean", {**PGD, "label": "pgd"}]}).cells
    assert {c.id for c in same} <= {c.id for c in cells}
    assert len({c.id for c in cells}) == len(cells)
