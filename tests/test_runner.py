import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mmeval import Params, RunResult, ThreatModelViolation, evaluate, hookimpl, recompute
from mmeval.attacks.clean import Clean
from mmeval.testing import Watched, toy_spec


def metrics_of(result: RunResult) -> dict:
    return {c["id"]: c["metrics"] for c in result.cells} | {
        g["id"]: g["metrics"] for g in result.results["groups"]}


def test_run_writes_results_and_report(tmp_path):
    result = evaluate(toy_spec(), out=tmp_path / "run")
    assert (tmp_path / "run" / "report.md").is_file()
    data = json.loads((tmp_path / "run" / "results.json").read_text())
    assert data["spec"]["name"] == "toy" and data["spec_hash"]
    assert data["versions"]["mmeval"] and data["environment"]["torch"] == torch.__version__
    assert {c["status"] for c in data["cells"]} == {"done"}
    clean, pgd = data["cells"]
    assert clean["metrics"]["robust-accuracy"] == clean["metrics"]["clean-accuracy"]
    assert pgd["metrics"]["robust-accuracy"]["value"] < 0.9 * pgd["metrics"]["clean-accuracy"][
        "value"]
    worst = result.metric("worst-case-robust-accuracy")
    assert worst.value <= pgd["metrics"]["robust-accuracy"]["value"] and worst.n == 40
    assert "| mmeval/toy-vlm | none |" in (tmp_path / "run" / "report.md").read_text()


def test_rerun_resumes_without_recomputing(tmp_path, host):
    calls = []

    class Counter:
        @hookimpl
        def mmeval_batch_end(self, event):
            calls.append(event.cell_id)

    host.register(Counter(), "counter")
    spec = toy_spec(tasks=[{"dataset": "mmeval/toy", "limit": 40}])
    first = evaluate(spec, out=tmp_path, host=host)
    n = len(calls)
    assert n == 6
    second = evaluate(spec, out=tmp_path, host=host)
    assert len(calls) == n
    assert metrics_of(first) == metrics_of(second)
    # a larger limit extends the same cells with only the missing samples
    third = evaluate(spec, out=tmp_path, host=host, limit=60)
    assert len(calls) == n  # --limit caps, it never raises a task's own limit
    spec["tasks"][0]["limit"] = 60
    third = evaluate(spec, out=tmp_path, host=host)
    assert len(calls) == n + 4  # 20 new samples per cell, batches of 16
    assert [c["n"] for c in third.cells] == [60, 60]


def test_results_do_not_depend_on_batch_size(tmp_path):
    a = evaluate(toy_spec(), out=tmp_path / "a")
    spec = toy_spec()
    spec["run"]["batch_size"] = 7
    b = evaluate(spec, out=tmp_path / "b")
    assert metrics_of(a) == metrics_of(b)


class Broken(Clean):
    def run(self, model, batch, objective, rng):
        raise RuntimeError("attack exploded")


class BrokenPlugin:
    @hookimpl
    def mmeval_register_attacks(self, registry):
        registry.add("test/broken", Broken)


def test_failing_cell_is_recorded_and_the_run_goes_on(tmp_path, host):
    host.register(BrokenPlugin(), "broken")
    spec = toy_spec(attacks=["test/broken", "clean"])
    result = evaluate(spec, out=tmp_path, host=host)
    broken, clean = result.cells
    assert broken["status"] == "failed" and "attack exploded" in broken["error"]
    assert clean["status"] == "done" and clean["n"] == 40
    assert "failed: RuntimeError: attack exploded" in (tmp_path / "report.md").read_text()


def test_fail_fast_raises(tmp_path, host):
    host.register(BrokenPlugin(), "broken")
    spec = toy_spec(attacks=["test/broken", "clean"])
    spec["run"]["fail_fast"] = True
    with pytest.raises(RuntimeError, match="attack exploded"):
        evaluate(spec, out=tmp_path, host=host)


class Overshoot(Clean):
    from mmeval import ThreatModel as _TM

    @property
    def threat_model(self):
        return self._TM("image", "linf", 1 / 255)

    def run(self, model, batch, objective, rng):
        from mmeval import AttackOutput
        return AttackOutput(images=(batch.images * 0.5 + 0.3))


def test_threat_model_violation_fails_the_cell_loudly(tmp_path, host):
    class P:
        @hookimpl
        def mmeval_register_attacks(self, registry):
            registry.add("test/overshoot", Overshoot)

    host.register(P(), "p")
    result = evaluate(toy_spec(attacks=["test/overshoot"]), out=tmp_path, host=host)
    (cell,) = result.cells
    assert cell["status"] == "failed" and ThreatModelViolation.__name__ in cell["error"]
    assert cell["n"] == 0


class BlurParams(Params):
    strength: float = 0.5


class Blur:
    """A differentiable preprocessing defense: mixes each image with its mean colour."""

    Params = BlurParams
    kind = "preprocess"
    stochastic = False
    differentiable = True

    def __init__(self, params):
        self.params = params

    def apply(self, model):
        encode, s = model.encode_image, self.params.strength

        def blurred(images):
            return encode((1 - s) * images + s * images.mean(dim=(2, 3), keepdim=True))

        model.encode_image = blurred
        return model


def test_defense_axis(tmp_path, host):
    class P:
        @hookimpl
        def mmeval_register_defenses(self, registry):
            registry.add("test/blur", Blur)

    host.register(P(), "p")
    spec = toy_spec(models=[{"name": "mmeval/toy-vlm",
                             "defenses": [{"name": "test/blur", "params": {"strength": 0.9}}]}],
                    attacks=["clean"])
    result = evaluate(spec, out=tmp_path, host=host)
    none, blur = result.cells
    assert (none["defense"], blur["defense"]) == ("none", "test/blur(strength=0.9)")
    # mixing 90% of the mean colour in destroys the patterns the toy model relies on
    assert blur["metrics"]["clean-accuracy"]["value"] < none["metrics"]["clean-accuracy"]["value"]


def test_bf16_precision_runs_attack_under_autocast(tmp_path):
    spec = toy_spec()
    spec["run"]["precision"] = "bf16"
    result = evaluate(spec, out=tmp_path)
    assert {c["status"] for c in result.cells} == {"done"}
    assert result.cells[0]["metrics"]["clean-accuracy"]["value"] >= 0.9


def test_report_recomputes_from_journal_alone(tmp_path, host, monkeypatch):
    evaluate(toy_spec(), out=tmp_path, host=host)
    before = json.loads((tmp_path / "results.json").read_text())
    (tmp_path / "results.json").unlink()
    (tmp_path / "report.md").unlink()
    from mmeval.testing import toy

    monkeypatch.setattr(toy.ToyVLM, "__init__", lambda *a: pytest.fail("model loaded"))
    recompute(tmp_path, host)
    assert json.loads((tmp_path / "results.json").read_text()) == before


def _count(journal: Path) -> int:
    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT count(*) FROM records").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_sigkill_midway_then_rerun_gives_identical_metrics(tmp_path):
    spec = toy_spec(
        tasks=[{"dataset": {"name": "mmeval/toy", "params": {"n": 240}}}],
        attacks=[{"name": "mmeval/pgd", "params": {"eps": 4 / 255, "steps": 100}},
                 {"name": "mmeval/pgd", "params": {"eps": 2 / 255, "steps": 100}}],
    )
    spec["run"]["batch_size"] = 8
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    run_dir = tmp_path / "killed"
    cmd = [sys.executable, "-m", "mmeval", "run", str(spec_file), "--out", str(run_dir),
           "--no-progress"]
    proc = Watched(cmd, watch=[run_dir])
    journal = run_dir / "journal.sqlite"
    while _count(journal) < 16 and proc.alive():
        time.sleep(0.02)
    proc.kill()
    at_kill = _count(journal)
    assert 0 < at_kill < 480, f"kill did not land mid-run ({at_kill} records)"

    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    resumed = json.loads((run_dir / "results.json").read_text())
    fresh = evaluate(spec, out=tmp_path / "fresh")
    with sqlite3.connect(journal) as db:
        rows = db.execute("SELECT count(*), count(DISTINCT cell_id || sample_id) FROM records")
        total, distinct = rows.fetchone()
    assert total == distinct == 480
    assert [c["metrics"] for c in resumed["cells"]] == [c["metrics"] for c in fresh.cells]
    assert [g["metrics"] for g in resumed["groups"]] == [g["metrics"] for g in
                                                         fresh.results["groups"]]
