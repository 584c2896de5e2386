"""examples/test_my_model.py, whose model class is defined in the test module itself, runs as a
user's CI would; and model objects go through evaluate(models=...) with the checks of a model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mmeval import SpecError, evaluate, plan, register_model
from mmeval.testing import run_watched, toy_spec
from mmeval.testing.toy import ToyVLM, ToyVLMParams

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "test_my_model.py"


def test_the_example_passes(tmp_path):
    basetemp = tmp_path / "runs"
    proc = run_watched(
        [sys.executable, "-m", "pytest", str(EXAMPLE), "-q", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), "--basetemp", str(basetemp)], watch=[basetemp], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "2 passed" in proc.stdout and "my-model" in proc.stdout


def test_model_objects_are_evaluated_and_their_weights_are_their_identity(tmp_path, host):
    spec = toy_spec(output_dir=str(tmp_path / "run"))
    del spec["models"]
    result = evaluate(spec, host=host, models={"mine": ToyVLM().eval()})
    assert {c["model"] for c in result.cells} == {"mine"} and len(result.cells) == 2
    again = evaluate(spec, host=host, models={"mine": ToyVLM(ToyVLMParams(seed=2)).eval()})
    assert {c["id"] for c in again.cells}.isdisjoint({c["id"] for c in result.cells})


def test_an_object_that_is_not_a_model_is_refused(host):
    with pytest.raises(SpecError, match=r"models\['mine'\]: object is not a VLModel: it lacks "
                                        r"\['input_specs', 'capabilities'"):
        register_model("mine", object(), host)
    name = register_model("mine", ToyVLM(), host)
    assert name == "local/mine" and plan(toy_spec(models=[name]), host).cells
