"""Sanity gates and non-finite flags: each gate passes on a sound model and fails on a model built
to break it; a failed gate marks results unreliable and makes ``--strict`` exit 3."""

from __future__ import annotations

import json

import pytest
import torch

from mmeval import CellInfo, PluginHost, ThreatModel, evaluate, hookimpl
from mmeval.checks import record_gates
from mmeval.cli import main
from mmeval.spec import ChecksSettings
from mmeval.testing import toy_spec
from mmeval.testing.toy import ToyVLM
from mmeval.types import SampleRecord


class NoisyToy(ToyVLM):
    """Randomized input noise at inference (a stochastic defense): needs EOT."""

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return super().encode_image((images + 0.2 * torch.randn_like(images)).clamp(0, 1))


class QuantizedToy(ToyVLM):
    """Input quantization with a zero gradient: the textbook case of gradient masking."""

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        q = torch.round(images * 8) / 8
        return super().encode_image(images * 0 + q.detach())


class NaNToy(ToyVLM):
    """Outputs NaN for images whose first pixel is bright."""

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        feats = super().encode_image(images)
        bad = (images[:, 0, 0, 0] > 0.5).view(-1, 1)
        return torch.where(bad, torch.full_like(feats, float("nan")), feats)


class _Models:
    @hookimpl
    def mmeval_register_models(self, registry):
        for cls in (NoisyToy, QuantizedToy, NaNToy):
            registry.add(f"test/{cls.__name__.lower()}", f"{__name__}:{cls.__name__}")


@pytest.fixture()
def gate_host() -> PluginHost:
    host = PluginHost()
    host.register(_Models(), "test-models")
    return host


def _spec(model: str, **run) -> dict:
    return toy_spec(models=[model], attacks=[
        "clean", {"name": "mmeval/pgd", "params": {"eps": 0.0}, "label": "pgd-0"},
        *({"name": "mmeval/pgd", "params": {"eps": k / 255, "steps": 5}, "label": f"pgd-{k}"}
          for k in (2, 8))], run={"batch_size": 16, "progress": False, **run})


def _failed(result) -> dict[str, list[str]]:
    return {g["gate"]: g["cells"] for g in result.results["checks"] if g["status"] == "failed"}


def test_sound_model_passes_every_gate(tmp_path, gate_host):
    result = evaluate(_spec("mmeval/toy-vlm"), out=tmp_path / "run", host=gate_host)
    gates = {g["gate"]: g["status"] for g in result.results["checks"]}
    assert gates == {"eps-zero": "passed", "monotone": "passed", "gradient-masking": "passed",
                     "stochastic": "passed"}
    assert result.results["unreliable"] == [] and all(c["reliable"] for c in result.cells)
    n = len(result.results["checks"])
    assert f"{n} passed, 0 failed" in (tmp_path / "run" / "report.md").read_text()


def test_stochastic_model_is_flagged_and_eps_zero_breaks(tmp_path, gate_host):
    result = evaluate(_spec("test/noisytoy"), out=tmp_path / "run", host=gate_host)
    failed = _failed(result)
    assert "stochastic" in failed and "eps-zero" in failed
    attacked = {c["id"] for c in result.cells if c["attack"] != "clean"}
    assert set(failed["stochastic"]) == attacked
    report = (tmp_path / "run" / "report.md").read_text()
    assert "unreliable (" in report and "EOT" in report


def test_gradient_masking_is_flagged(tmp_path, gate_host):
    result = evaluate(_spec("test/quantizedtoy"), out=tmp_path / "run", host=gate_host)
    failed = _failed(result)
    assert set(failed) == {"gradient-masking"}
    detail = next(g["detail"] for g in result.results["checks"] if g["gate"] == "gradient-masking")
    assert "masked" in detail
    pgd = {c["id"] for c in result.cells if c["attack"].startswith("pgd-") and c["attack"] != "pgd-0"}
    assert pgd <= set(failed["gradient-masking"])


def test_gates_can_be_switched_off(tmp_path, gate_host):
    off = {k: False for k in ("eps_zero", "monotone", "gradient_masking", "stochastic")}
    result = evaluate(_spec("test/noisytoy", checks=off), out=tmp_path / "run", host=gate_host)
    assert result.results["checks"] == [] and result.results["unreliable"] == []


def test_non_finite_outputs_are_flagged_not_scored(tmp_path, gate_host):
    result = evaluate(_spec("test/nantoy"), out=tmp_path / "run", host=gate_host)
    clean = next(c for c in result.cells if c["attack"] == "clean")
    assert 0 < clean["flagged"] < 40 and clean["n"] == 40 - clean["flagged"]
    assert clean["metrics"]["clean-accuracy"]["n"] == clean["n"]
    assert "non-finite" in clean["failed_checks"] and not clean["reliable"]
    from mmeval import Store

    with Store(tmp_path / "run", create=False) as store:
        flagged = [r for r in store.records(clean["id"]) if "non_finite" in r.extra]
    assert flagged and not any(r.clean_correct or r.adv_correct for r in flagged)


def _records(cell: str, clean: list[bool], adv: list[bool]) -> list[SampleRecord]:
    pairs = enumerate(zip(clean, adv, strict=True))
    return [SampleRecord(cell, f"s{i}", 0, 0, 0, c, a) for i, (c, a) in pairs]


def _cell(cid: str, eps: float) -> tuple[str, CellInfo]:
    """A PGD cell of one eps sweep at ``eps``."""
    return cid, CellInfo(
        label=cid, model="m", defense="none", task="t", attack=cid, attack_name="mmeval/pgd",
        objective_kind="classification", threat=ThreatModel("image", "linf", eps),
        role="white-box", source=None, uses_gradients=True, eot=False, sweep="s-1",
        attack_key=cid)


def test_monotone_gate_on_records():
    clean = [True] * 10
    cells = [_cell("a", 1 / 255), _cell("b", 4 / 255)]
    falling = {"a": _records("a", clean, [True] * 8 + [False] * 2),
               "b": _records("b", clean, [True] * 3 + [False] * 7)}
    rising = {"a": falling["b"], "b": falling["a"]}
    settings = ChecksSettings()
    assert [g["status"] for g in record_gates(cells, falling, settings)] == ["passed"]
    (gate,) = record_gates(cells, rising, settings)
    assert gate["status"] == "failed" and gate["cells"] == ["a", "b"] and "rises" in gate["detail"]
    lenient = ChecksSettings(monotone_tolerance=0.5)
    assert record_gates(cells, rising, lenient)[0]["status"] == "passed"


def test_strict_exits_3_on_unreliable_results(tmp_path, gate_host, monkeypatch, capsys):
    import mmeval.plugins

    monkeypatch.setattr(mmeval.plugins, "_default", gate_host)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(_spec("test/noisytoy")))
    assert main(["run", str(spec), "--out", str(tmp_path / "run")]) == 0
    assert main(["run", str(spec), "--out", str(tmp_path / "run"), "--strict"]) == 3
    assert "unreliable" in capsys.readouterr().err
    sound = tmp_path / "sound.json"
    sound.write_text(json.dumps(_spec("mmeval/toy-vlm")))
    assert main(["run", str(sound), "--out", str(tmp_path / "sound"), "--strict"]) == 0
