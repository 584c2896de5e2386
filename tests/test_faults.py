"""Faults in component code end in one line, fail only their cell, and leave a journal that a
re-run completes (docs/reliability.md, "Faults")."""

from __future__ import annotations

import time

import pytest
import torch

from mmeval import evaluate, hookimpl
from mmeval.attacks.clean import Clean
from mmeval.store import Store
from mmeval.testing import toy_spec


class Exits(Clean):
    def run(self, model, batch, objective, rng):
        raise SystemExit(3)


class Poisons(Clean):
    """Adds 1 to a weight in place (a version counter sees it)."""

    def run(self, model, batch, objective, rng):
        with torch.no_grad():
            next(model.parameters()).add_(1.0)
        return super().run(model, batch, objective, rng)


class PoisonsQuietly(Clean):
    """Adds 1 to a weight through ``.data`` (only the fingerprint sees it)."""

    def run(self, model, batch, objective, rng):
        next(model.parameters()).data.add_(1.0)
        return super().run(model, batch, objective, rng)


class Hangs(Clean):
    def run(self, model, batch, objective, rng):
        time.sleep(60)


class Slow(Clean):
    def run(self, model, batch, objective, rng):
        time.sleep(0.4)
        return super().run(model, batch, objective, rng)


class FaultyAttacks:
    @hookimpl
    def mmeval_register_attacks(self, registry):
        for name, cls in (("exits", Exits), ("poisons", Poisons), ("poisons-quietly",
                          PoisonsQuietly), ("hangs", Hangs), ("slow", Slow)):
            registry.add(f"test/{name}", cls)


@pytest.fixture()
def faulty(host):
    host.register(FaultyAttacks(), "faulty")
    return host


def _cells(result) -> dict[str, dict]:
    return {c["label"].split(" / ")[-1]: c for c in result.cells}


def test_an_attack_raising_system_exit_fails_its_cell_and_the_run_goes_on(tmp_path, faulty):
    result = evaluate(toy_spec(attacks=["test/exits", "clean"]), out=tmp_path, host=faulty)
    exits, clean = result.cells
    assert exits["status"] == "failed" and exits["error"].startswith("SystemExit: 3 (at ")
    assert "\n" not in exits["error"] and "fails only its cell" in exits["error"]
    assert clean["status"] == "done" and clean["n"] == 40
    assert (tmp_path / "results.json").is_file()


@pytest.mark.parametrize("attack", ["test/poisons", "test/poisons-quietly"])
def test_an_attack_that_changes_the_weights_fails_and_the_model_is_rebuilt(tmp_path, faulty,
                                                                          attack):
    pgd = {"name": "mmeval/pgd", "params": {"eps": 4 / 255, "steps": 3}}
    reference = evaluate(toy_spec(attacks=["clean", pgd]), out=tmp_path / "ref", host=faulty)
    result = evaluate(toy_spec(attacks=["clean", attack, pgd]), out=tmp_path / "run",
                      host=faulty)
    clean, poisons, after = result.cells
    assert poisons["status"] == "failed" and poisons["n"] == 0
    assert f"attack '{attack}' changed the model's parameters or buffers in place" in \
        poisons["error"]
    assert "\n" not in poisons["error"]
    # the cells after it ran on a rebuilt model: the numbers of a run without the faulty attack
    for ours, theirs in ((clean, reference.cells[0]), (after, reference.cells[1])):
        assert ours["status"] == "done"
        assert {k: v["value"] for k, v in ours["metrics"].items()} == \
            {k: v["value"] for k, v in theirs["metrics"].items()}


def test_a_hanging_attack_fails_its_cell_at_the_batch_timeout(tmp_path, faulty):
    spec = toy_spec(attacks=["test/hangs", "clean"])
    spec["run"]["timeout"] = {"batch": 0.5}
    t0 = time.monotonic()
    hangs, clean = evaluate(spec, out=tmp_path, host=faulty).cells
    assert time.monotonic() - t0 < 30
    assert hangs["status"] == "failed" and "\n" not in hangs["error"]
    assert "a batch of 16 samples ran past run.timeout.batch (0.5 s) in attack 'test/hangs'" in \
        hangs["error"]
    assert clean["status"] == "done" and clean["n"] == 40


def test_a_cell_past_its_timeout_keeps_its_batches_and_a_rerun_completes_it(tmp_path, faulty):
    spec = toy_spec(attacks=["test/slow"])
    spec["run"]["timeout"] = {"cell": 0.6}
    (cell,) = evaluate(spec, out=tmp_path, host=faulty).cells
    assert cell["status"] == "failed" and "ran past run.timeout.cell (0.6 s)" in cell["error"]
    with Store(tmp_path, create=False) as store:
        kept = len(store.records(cell["id"]))
    assert kept == 16  # the first batch was committed; the second was cut short
    del spec["run"]["timeout"]
    (cell,) = evaluate(spec, out=tmp_path, host=faulty).cells
    assert cell["status"] == "done" and cell["n"] == 40


def test_a_spec_file_that_exits_is_one_line_and_exit_2(tmp_path, capsys):
    from mmeval.cli import main

    path = tmp_path / "spec.py"
    path.write_text("import sys\nsys.exit(0)\n")
    assert main(["run", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("SpecError: running ") and "SystemExit" in err and "\n" not in err
