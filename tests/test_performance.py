"""Throughput features keep the numbers: PGD's early exit, the automatic batch size, low-precision
attack steps re-checked in fp32, and compiled encoders."""

from __future__ import annotations

import pytest
import torch

from mmeval import PGD, PGDParams, PluginHost, evaluate, hookimpl
from mmeval.autobatch import CPU_BATCH, SAFETY, auto_batch_size, largest_fitting
from mmeval.errors import MmevalError
from mmeval.seeding import BatchRandom, sample_seed
from mmeval.store import Store
from mmeval.testing import toy_spec
from mmeval.testing.toy import ToyVLM


def _rng(batch):
    return BatchRandom([sample_seed(0, "cell", s) for s in batch.sample_ids])


def test_early_stop_fools_a_superset_and_leaves_the_rest_on_the_reference_path(
        toy_model, toy_batch, objective):
    params = {"eps": 4 / 255, "steps": 20}
    full = PGD(PGDParams(**params))(toy_model, toy_batch, objective, _rng(toy_batch)).images
    calls = []
    loss = objective.loss

    def counting(model, images, batch):
        calls.append(len(images))
        return loss(model, images, batch)

    objective.loss = counting
    early = PGD(PGDParams(**params, early_stop=True))(toy_model, toy_batch, objective,
                                                      _rng(toy_batch)).images
    del objective.loss
    delta = (early - toy_batch.images).abs().flatten(1).amax(dim=1)
    assert delta.max() <= 4 / 255 + 1e-6 and early.min() >= 0 and early.max() <= 1
    fooled_full = objective.is_success(toy_model, full, toy_batch)
    fooled_early = objective.is_success(toy_model, early, toy_batch)
    # a sample's trajectory is the reference one until it is fooled, and a fooled sample stops
    assert not (fooled_full & ~fooled_early).any()
    assert fooled_early.sum() >= fooled_full.sum() > len(toy_batch) // 2
    kept = ~fooled_early
    assert torch.allclose(early[kept], full[kept], atol=1e-5)
    # and the fooled samples stopped stepping: fewer gradient evaluations than 20 x 100
    assert len(calls) <= 20 and sum(calls) < 0.8 * 20 * len(toy_batch)


def test_early_stop_refuses_momentum():
    with pytest.raises(ValueError, match="early_stop"):
        PGDParams(early_stop=True, momentum=0.9)


def _oom_above(limit: int, probes: list[int]):
    def step(n: int) -> None:
        probes.append(n)
        if n > limit:
            raise torch.cuda.OutOfMemoryError(f"{n} > {limit}")
    return step


@pytest.mark.parametrize("limit,expected", [(700, 512), (800, 768), (8, 8), (20000, 8192)])
def test_largest_fitting_batch(limit, expected):
    probes: list[int] = []
    assert largest_fitting(_oom_above(limit, probes), start=8) == expected
    assert max(probes) <= max(2 * expected, 8192)  # it stops at the first batch that fails


def test_largest_fitting_fails_clearly_when_nothing_fits():
    with pytest.raises(MmevalError, match="run.batch_size"):
        largest_fitting(_oom_above(4, []), start=8)


def test_auto_batch_size_is_probed_once_per_key_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(tmp_path))
    probes: list[int] = []
    step = _oom_above(1000, probes)
    assert auto_batch_size({"model": "a"}, torch.device("cpu"), step) == CPU_BATCH
    assert probes == []  # nothing to fill on a CPU
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: "Fake GPU")
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda d=None: type("P", (), {"total_memory": 80 * 2**30})())
    cuda = torch.device("cuda")
    first = auto_batch_size({"model": "a"}, cuda, step)
    assert first == int(SAFETY * 768) and probes
    n = len(probes)
    assert auto_batch_size({"model": "a"}, cuda, step) == first and len(probes) == n
    assert (tmp_path / "autobatch.json").is_file()
    auto_batch_size({"model": "b"}, cuda, step)
    assert len(probes) > n  # another model is probed anew


def test_auto_batch_size_in_a_run_on_cpu(tmp_path):
    sizes: list[int] = []

    class Sizes:
        @hookimpl
        def mmeval_batch_end(self, event):
            sizes.append(event.batch_size)

    host = PluginHost()
    host.register(Sizes(), "sizes")
    spec = toy_spec(tasks=[{"dataset": {"name": "mmeval/toy", "params": {"n": 40}}}],
                    attacks=["clean"], run={"batch_size": "auto", "progress": False})
    result = evaluate(spec, out=tmp_path, host=host)
    assert result.cells[0]["status"] == "done" and sizes == [CPU_BATCH, 40 - CPU_BATCH]


class LowPrecisionToy(ToyVLM):
    """Predicts the next class whenever autocast is on: a model whose verdict the attack's
    precision changes."""

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        feats = super().encode_image(images)
        if torch.is_autocast_enabled(images.device.type):
            proto = self.encode_text(list(self.class_names)).to(feats.dtype)
            pred = (feats @ proto.T).argmax(dim=1)
            return proto[(pred + 1) % len(self.class_names)]
        return feats


class _LowPrecisionModels:
    @hookimpl
    def mmeval_register_models(self, registry):
        registry.add("test/low-precision-toy", f"{__name__}:LowPrecisionToy")


def test_low_precision_verdict_is_kept_but_fp32_is_scored(tmp_path):
    host = PluginHost()
    host.register(_LowPrecisionModels(), "models")
    spec = toy_spec(models=["test/low-precision-toy"], attacks=["clean"],
                    run={"batch_size": 16, "progress": False, "precision": "bf16"})
    result = evaluate(spec, out=tmp_path, host=host)
    cell = result.cells[0]
    clean = cell["metrics"]["clean-accuracy"]["value"]
    assert clean >= 0.9 and cell["metrics"]["robust-accuracy"]["value"] == clean
    with Store(tmp_path, create=False) as store:
        records = store.records(cell["id"])
    right = [r for r in records if r.adv_correct]
    assert len(right) == round(clean * len(records))
    assert all(r.extra["adv_correct_bf16"] is False for r in right)


def test_a_compiled_run_gives_the_same_outcomes(tmp_path):
    from torch._dynamo.utils import counters

    spec = toy_spec()
    eager = evaluate(spec, out=tmp_path / "eager")
    graphs = counters["stats"]["unique_graphs"]
    spec["run"]["compile"] = True
    compiled = evaluate(spec, out=tmp_path / "compiled")
    assert counters["stats"]["unique_graphs"] > graphs  # the step and encoder really were compiled
    for a, b in zip(eager.cells, compiled.cells, strict=True):
        assert a["id"] == b["id"]  # compilation does not change what a cell is
        with Store(tmp_path / "eager", create=False) as s1, \
                Store(tmp_path / "compiled", create=False) as s2:
            r1 = {r.sample_id: (r.clean_pred, r.adv_pred) for r in s1.records(a["id"])}
            r2 = {r.sample_id: (r.clean_pred, r.adv_pred) for r in s2.records(b["id"])}
        assert r1.keys() == r2.keys()
        same = sum(r1[k] == r2[k] for k in r1)
        assert same >= 0.95 * len(r1)  # kernels may round differently, the attack is the same
