"""Audio through the same protocols: the sounds world, audio batches, projection and verification
of waveform attacks (L-inf and SNR budgets), the zoo audio-text model, and an audio spec end to
end."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
import torch

import mmeval
from mmeval import (
    AttackOutput,
    Batch,
    IncompatibleComponentsError,
    Store,
    ThreatModel,
    ThreatModelViolation,
    evaluate,
    plan,
    project,
    register_model,
    snr_db,
    verify_output,
)
from mmeval.data.shapes import ShapesDataset, ShapesParams
from mmeval.data.sounds import LOUDNESS, PITCHES, SoundsDataset, SoundsParams
from mmeval.testing import AttackContract, ModelContract

CLAP = "zoo/tiny-clap-shapes"


def test_sounds_are_the_shapes_scenes_heard():
    sounds, shapes = SoundsDataset(SoundsParams(n=20, seed=3)), ShapesDataset(ShapesParams(n=20, seed=3))
    for i in range(20):
        assert sounds.attributes(i) == shapes.attributes(i)
        s = sounds[i]
        assert s.texts == shapes[i].texts and s.label == shapes[i].label == sounds.label(i)
        assert s.image is None and s.audio.dtype == torch.float32 and s.audio.shape == (8000,)
        assert float(s.audio.min()) >= -1 and float(s.audio.max()) <= 1 and s.sample_rate == 8000
    assert torch.equal(sounds[4].audio, SoundsDataset(SoundsParams(n=20, seed=3))[4].audio)
    assert not torch.equal(sounds[4].audio, sounds[5].audio)


def test_pitch_and_loudness_are_audible():
    ds = SoundsDataset(SoundsParams(n=400, seed=0))
    tones = [i for i in range(len(ds)) if ds.attributes(i).shape == "circle"][:8]
    assert len(tones) >= 5
    for i in tones:  # a pure tone: the spectrum peaks at the colour's pitch (within 1.5% detune)
        spectrum = np.abs(np.fft.rfft(ds[i].audio.numpy()))
        peak = float(np.argmax(spectrum)) * 8000 / 8000
        assert abs(peak / PITCHES[ds.attributes(i).color] - 1) < 0.03, (peak, ds.attributes(i))
    peaks = {size: [] for size in LOUDNESS}
    for i in range(100):
        peaks[ds.attributes(i).size].append(float(ds[i].audio.abs().max()))
    assert np.median(peaks["small"]) < np.median(peaks["medium"]) < np.median(peaks["large"])


def test_a_batch_carries_one_signal():
    sounds = SoundsDataset(SoundsParams(n=3))
    batch = Batch.collate([sounds[i] for i in range(3)])
    assert batch.modality == "audio" and batch.images is None and batch.signal.shape == (3, 8000)
    assert batch.sample_rate == 8000 and batch.subset(torch.tensor([2, 0])).signal.shape == (2, 8000)
    image = ShapesDataset(ShapesParams(n=1))[0]
    with pytest.raises(ValueError, match="exactly one signal"):
        Batch.collate([sounds[0], image])


def test_projection_keeps_bounds_linf_and_snr():
    g = torch.Generator().manual_seed(0)
    clean = 0.5 * (2 * torch.rand(4, 1000, generator=g) - 1)
    adv = clean + torch.randn(4, 1000, generator=g)
    out = project(clean, adv, "linf", 0.05, (-1.0, 1.0), snr=30.0)
    assert out.min() >= -1 and out.max() <= 1
    assert (out - clean).abs().max() <= 0.05 + 1e-6
    assert (snr_db(clean, out) >= 30 - 1e-4).all()
    # the SNR floor binds: at 30 dB the L2 radius is far below what eps 0.05 allows
    assert (snr_db(clean, out) < 30.01).all()
    assert torch.equal(project(clean, clean, "linf", 0.05, (-1.0, 1.0), snr=30.0), clean)


def _audio_batch(n: int = 4) -> Batch:
    sounds = SoundsDataset(SoundsParams(n=n))
    return Batch.collate([sounds[i] for i in range(n)])


def test_verification_refuses_audio_outside_its_budget():
    batch = _audio_batch()
    x = batch.audio
    tm = ThreatModel("audio", "linf", 0.01, snr_db=20.0)
    ok = verify_output(tm, batch, AttackOutput(audio=x + 0.001))
    assert ok.audio is not None and (ok.audio - x).abs().max() <= 0.01 + 1e-6
    with pytest.raises(ThreatModelViolation, match="exceeds eps"):
        verify_output(tm, batch, AttackOutput(audio=x + 0.02))
    loud = x + 0.009 * torch.sign(torch.randn_like(x))
    with pytest.raises(ThreatModelViolation, match="SNR .* below the 40 dB budget"):
        verify_output(ThreatModel("audio", "linf", 0.01, snr_db=40.0), batch, AttackOutput(audio=loud))
    with pytest.raises(ThreatModelViolation, match=r"leave \[-1, 1\]"):
        verify_output(tm, batch, AttackOutput(audio=torch.full_like(x, 1.5)))
    with pytest.raises(ThreatModelViolation, match="forbids changing audio"):
        verify_output(ThreatModel("image", "linf", 0.01), batch, AttackOutput(audio=x + 0.001))
    with pytest.raises(ThreatModelViolation, match="returned images for a batch of audio"):
        verify_output(tm, batch, AttackOutput(images=torch.zeros(4, 3, 8, 8)))


class TestTinyCLAP(ModelContract):
    model = CLAP


class TestAudioPGD(AttackContract):
    attack = "mmeval/pgd"
    params: ClassVar[dict] = {"modality": "audio", "eps": 0.01, "steps": 10}
    model = CLAP
    dataset = "sounds"
    dataset_params: ClassVar[dict] = {"n": 8}


class TestAudioPGDWithSNRFloor(AttackContract):
    attack = "mmeval/pgd"
    params: ClassVar[dict] = {"modality": "audio", "eps": 0.05, "snr_db": 25.0, "steps": 10}
    model = CLAP
    dataset = "sounds"
    dataset_params: ClassVar[dict] = {"n": 8}


def _audio_spec(out: str, attacks: list, n: int = 100) -> dict:
    return {"name": "audio", "output_dir": out, "models": [CLAP],
            "tasks": [{"dataset": {"name": "sounds", "params": {"n": n, "classes": "shape"}},
                       "objective": {"name": "zero-shot",
                                     "params": {"template": "this is the sound of a {}"}},
                       "label": "sounds-shape"},
                      {"dataset": {"name": "sounds", "params": {"n": n // 2}},
                       "objective": "retrieval", "label": "sounds-retrieval"}],
            "attacks": attacks,
            "metrics": ["clean-accuracy", "robust-accuracy", "tr@1", "ir@1"],
            "run": {"batch_size": 50, "progress": False}}


def test_an_audio_spec_runs_end_to_end(tmp_path):
    pgd = {"name": "mmeval/pgd", "label": "pgd", "params": {"modality": "audio", "eps": 0.01,
                                                           "steps": 10}}
    result = evaluate(_audio_spec(str(tmp_path / "run"), ["clean", pgd]))
    cells = {(c["task"], c["attack"]): c for c in result.cells}
    assert all(c["status"] == "done" for c in cells.values())
    clean = cells[("sounds-shape", "clean")]["metrics"]["clean-accuracy"]["value"]
    robust = cells[("sounds-shape", "pgd")]["metrics"]["robust-accuracy"]["value"]
    assert clean >= 0.85 and robust < clean - 0.2, (clean, robust)
    assert cells[("sounds-retrieval", "clean")]["metrics"]["tr@1"]["value"] > 0.3
    with Store(result.run_dir, create=False) as store:
        attacked = store.records(cells[("sounds-shape", "pgd")]["id"])
        untouched = store.records(cells[("sounds-shape", "clean")]["id"])
    assert all(0 < r.linf <= 0.01 + 1e-6 and r.extra["snr_db"] > 0 for r in attacked)
    assert all(r.extra["snr_db"] is None for r in untouched)


def test_audio_pgd_at_eps_zero_is_clean(tmp_path):
    zero = {"name": "mmeval/pgd", "label": "pgd0", "params": {"modality": "audio", "eps": 0.0}}
    result = evaluate(_audio_spec(str(tmp_path / "run"), ["clean", zero], n=20))
    by = {(c["task"], c["attack"]): c["id"] for c in result.cells}
    with Store(result.run_dir, create=False) as store:
        for task in ("sounds-shape", "sounds-retrieval"):
            clean, adv = store.records(by[(task, "clean")]), store.records(by[(task, "pgd0")])
            assert [r.adv_pred for r in clean] == [r.adv_pred for r in adv]
            assert all(r.linf == 0 for r in adv)


def test_plan_refuses_mismatched_signals(tmp_path):
    image_pgd = {"name": "mmeval/pgd", "params": {"eps": 0.01}}
    with pytest.raises(IncompatibleComponentsError, match=r"attacks\[1\].*perturbs image, but the "
                                                          r"tasks carry only audio"):
        plan(_audio_spec(str(tmp_path), ["clean", image_pgd]))
    spec = _audio_spec(str(tmp_path), ["clean"])
    spec["models"] = ["zoo/tiny-clip-shapes"]
    with pytest.raises(IncompatibleComponentsError, match="carries audio, but model "
                                                          "'zoo/tiny-clip-shapes'.*encodes only"):
        plan(spec)


class _Both(torch.nn.Module):
    """A model with image, audio and text towers (all that planning reads is its declaration)."""

    capabilities = frozenset({"image", "audio", "text"})
    logit_scale = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.input_specs = {}
        self.w = torch.nn.Parameter(torch.zeros(1))

    def encode_image(self, images):  # pragma: no cover - planning only
        raise NotImplementedError

    encode_audio = encode_text = encode_image


def test_an_attack_gets_cells_only_on_tasks_carrying_its_signal(tmp_path, host):
    audio_pgd = {"name": "mmeval/pgd", "label": "apgd", "params": {"modality": "audio"}}
    image_pgd = {"name": "mmeval/pgd", "label": "ipgd"}
    spec = _audio_spec(str(tmp_path), ["clean", audio_pgd, image_pgd])
    spec["models"] = [register_model("both", _Both(), host)]
    spec["tasks"] = [spec["tasks"][0], {"dataset": {"name": "shapes", "params": {"n": 4}},
                                        "label": "shapes"}]
    cells = {(c.info.task, c.info.attack) for c in plan(spec, host).cells}
    assert cells == {("sounds-shape", "clean"), ("sounds-shape", "apgd"), ("shapes", "clean"),
                     ("shapes", "ipgd")}
    spec["tasks"] = spec["tasks"][1:]
    with pytest.raises(IncompatibleComponentsError, match=r"attacks\[1\].*perturbs audio, but "
                                                          "the tasks carry only image"):
        plan(spec, host)


class TestTinyTriModal(ModelContract):
    model = "zoo/tiny-trimodal-shapes"


def test_a_trimodal_model_is_attacked_on_each_signal_by_that_signals_attacks(tmp_path):
    spec = {"name": "both", "output_dir": str(tmp_path / "run"),
            "models": ["zoo/tiny-trimodal-shapes"],
            "tasks": [{"dataset": {"name": "shapes", "params": {"n": 40}}, "label": "seen"},
                      {"dataset": {"name": "sounds", "params": {"n": 40}}, "label": "heard",
                       "objective": {"name": "zero-shot",
                                     "params": {"template": "this is the sound of a {}"}}}],
            "attacks": ["clean",
                        {"name": "mmeval/pgd", "label": "image pgd", "params": {"eps": 8 / 255}},
                        {"name": "mmeval/pgd", "label": "audio pgd",
                         "params": {"modality": "audio", "eps": 0.02}}],
            "run": {"batch_size": 20, "progress": False}}
    result = evaluate(spec)
    acc = {(c["task"], c["attack"]): c["metrics"]["robust-accuracy"]["value"] for c in result.cells}
    assert set(acc) == {("seen", "clean"), ("seen", "image pgd"), ("heard", "clean"),
                        ("heard", "audio pgd")}
    assert acc[("seen", "clean")] >= 0.6 and acc[("heard", "clean")] >= 0.6, acc
    assert acc[("seen", "image pgd")] < acc[("seen", "clean")]
    assert acc[("heard", "audio pgd")] < acc[("heard", "clean")]


def test_the_seed_question_compares_paired_seeds():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "seed_question_audio.py"
    spec = importlib.util.spec_from_file_location("seed_question_audio", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    the_plan = plan(example.SPEC)
    assert {c.info.model for c in the_plan.cells} == {f"{v} s{s}" for v in example.VARIANTS
                                                       for s in example.SEEDS}
    values = {"image-text": [0.50, 0.60, 0.55], "+audio": [0.60, 0.62, 0.70]}
    cells = [{"model": f"{v} s{s}", "attack": "pgd 1/255",
              "metrics": {"robust-accuracy": {"value": values[v][i], "low": 0, "high": 1, "n": 9}}}
             for v in values for i, s in enumerate(example.SEEDS)]
    table = example.compare(mmeval.RunResult(Path("."), {"cells": cells, "groups": []}))
    row = table.splitlines()[2]
    # paired differences 10, 2, 15: mean 9.0, t(2) * sd / sqrt(3) = 4.303 * 6.557 / 1.732 = 16.3
    assert "50.0 / 60.0 / 55.0" in row and "55.0 ± 12.4" in row and "+9.0 ± 16.3" in row, row


def test_audio_at_another_sample_rate_fails_its_cells_with_the_rates_named(tmp_path):
    spec = _audio_spec(str(tmp_path / "run"), ["clean"], n=4)
    spec["tasks"] = spec["tasks"][:1]
    spec["tasks"][0]["dataset"]["params"]["sample_rate"] = 16000
    result = evaluate(spec)
    [cell] = result.cells
    assert cell["status"] == "failed"
    assert "gives 16000 Hz audio, but the model takes 8000 Hz" in cell["error"]
