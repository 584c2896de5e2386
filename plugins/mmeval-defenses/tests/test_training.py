"""The training engine through the defenses: which weights change, the losses the papers define,
checkpoints that load back, resume after a kill, bad specs refused before any compute."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import mmeval
from mmeval import Batch, BatchRandom, SpecError, attack_mode, contrastive_loss, create_model, train
from mmeval.testing import Watched, run_watched

TINY = {"name": "zoo/tiny-clip-shapes"}
SHAPES = {"name": "shapes", "params": {"n": 64, "seed": 5000}}


def spec(tmp: Path, defense, **over):
    base = {"model": TINY, "dataset": SHAPES, "defense": defense, "epochs": 1, "batch_size": 32,
            "optimizer": {"name": "sgd", "lr": 1e-2}, "progress": False,
            "output_dir": str(tmp / "run")}
    return {**base, **over}


def weights(model) -> dict[str, dict[str, torch.Tensor]]:
    return {t: {str(i): p.detach().clone() for i, p in enumerate(ps)}
            for t, ps in model.tower_parameters().items()}


def load(ref) -> torch.nn.Module:
    return create_model(ref["name"], **ref["params"]).eval()


def test_tecoa_trains_the_image_tower_only(tmp_path):
    before = weights(create_model(TINY["name"]))
    result = train(spec(tmp_path, "defenses/tecoa"))
    after = weights(load(result.model))
    for tower in ("text", "scale"):
        assert all(torch.equal(before[tower][k], after[tower][k]) for k in before[tower]), tower
    changed = [k for k in before["image"] if not torch.equal(before["image"][k], after["image"][k])]
    assert len(changed) > len(before["image"]) // 2


AUDIO_TECOA = {"name": "defenses/tecoa", "params": {
    "template": "this is the sound of a {}",
    "image_attack": {"name": "mmeval/pgd",
                     "params": {"modality": "audio", "eps": 0.004, "steps": 2, "step_size": 0.002}}}}


def test_tecoa_on_audio_trains_the_audio_tower_only_and_evaluates_from_its_checkpoint(tmp_path):
    clap = {"name": "zoo/tiny-clap-shapes"}
    before = weights(create_model(clap["name"]))
    result = train(spec(tmp_path, AUDIO_TECOA, model=clap,
                        dataset={"name": "sounds", "params": {"n": 64, "seed": 5000}}))
    assert result.model == {"name": "zoo/tiny-clap-shapes",
                            "params": {"pretrained": result.model["params"]["pretrained"]}}
    after = weights(load(result.model))
    assert set(before) == {"image", "audio", "text", "scale"} and not before["image"]
    for tower in ("text", "scale"):
        assert all(torch.equal(before[tower][k], after[tower][k]) for k in before[tower]), tower
    changed = [k for k in before["audio"] if not torch.equal(before["audio"][k], after["audio"][k])]
    assert len(changed) > len(before["audio"]) // 2
    pgd = {"name": "mmeval/pgd", "label": "pgd", "params": {"modality": "audio", "eps": 0.004}}
    evaluated = mmeval.evaluate({
        "name": "tecoa-audio", "output_dir": str(tmp_path / "eval"),
        "models": [{"name": "zoo/tiny-clap-shapes", "defenses": [
            {"name": "defenses/tecoa", "label": "tecoa", "params": {**AUDIO_TECOA["params"],
                                                  "checkpoint": result.model["params"]["pretrained"]}}]}],
        "tasks": [{"dataset": {"name": "sounds", "params": {"n": 16}},
                   "objective": {"name": "zero-shot",
                                 "params": {"template": "this is the sound of a {}"}}}],
        "attacks": ["clean", pgd], "run": {"progress": False}})
    assert {(c["defense"], c["status"]) for c in evaluated.cells} == {
        ("none", "done"), ("tecoa", "done")}


def test_fare_loss_is_zero_at_step_zero(tmp_path):
    attack = {"name": "mmeval/pgd", "params": {"eps": 0.0}}
    result = train(spec(tmp_path, {"name": "defenses/fare", "params": {"image_attack": attack}},
                        model_mode="eval", limit=32))
    assert result.losses[0] == 0.0
    # with a real budget the attack moves the embedding from the start
    result = train(spec(tmp_path, "defenses/fare", model_mode="eval", limit=32,
                        output_dir=str(tmp_path / "eps")))
    assert result.losses[0] > 0.0


def symmetric_ce(images, texts, scale):
    logits = scale * images @ texts.T
    target = torch.arange(len(images))
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def test_mmcoa_without_text_weight_is_the_contrastive_loss_on_adversarial_images():
    model = create_model(TINY["name"])
    data = mmeval.get_host().registry.get("dataset", "shapes").build({"n": 16, "seed": 5000})
    defense = mmeval.get_host().registry.get("defense", "defenses/mmcoa").build(
        {"text_weight": 0.0})
    defense.setup(model, data)
    batch = Batch.collate([data[i] for i in range(16)])
    with attack_mode(model):
        adv = defense.perturb(model, batch, BatchRandom(range(16)))
    images, texts, adv_texts = adv
    assert adv_texts == texts and not torch.equal(images, batch.images)
    assert (images - batch.images).abs().max() <= 1 / 255 + 1e-6
    loss = defense.loss(model, batch, adv)
    scale = model.trainable_logit_scale()
    expected = symmetric_ce(model.encode_image(images), model.encode_text(texts), scale)
    torch.testing.assert_close(loss, 0.5 * 2 * expected)  # lambda_img * (i->t + t->i)
    torch.testing.assert_close(contrastive_loss(model.encode_image(images),
                                                model.encode_text(texts), scale), expected)


def test_mmcoa_loss_is_the_references_formula_by_hand():
    """L = 0.5 * [CE_i2t(x', t) + CE_t2i(t, x')] + 0.5 * [CE_i2t(x, t') + CE_t2i(t', x)], the
    two directions summed (not averaged), on the trainable logit scale."""
    model = create_model(TINY["name"])
    data = mmeval.get_host().registry.get("dataset", "shapes").build({"n": 4, "seed": 5000})
    defense = mmeval.get_host().registry.get("defense", "defenses/mmcoa").build({})
    batch = Batch.collate([data[i] for i in range(4)])
    images = (batch.images + 1 / 255).clamp(0, 1)
    texts = [f"a photo of a {s}" for s in ("red circle", "blue square", "green star", "ring")]
    adv_texts = ["a photo of a red cross", *texts[1:3], "a picture of a ring"]
    loss = defense.loss(model, batch, (images, texts, adv_texts))
    with torch.no_grad():
        scale = float(model.trainable_logit_scale())
        i_adv, i = model.encode_image(images).double(), model.encode_image(batch.images).double()
        t, t_adv = model.encode_text(texts).double(), model.encode_text(adv_texts).double()
    y = torch.arange(4)

    def directions(img, txt):
        logits = scale * img @ txt.T
        return -logits.log_softmax(1)[y, y].mean() - logits.T.log_softmax(1)[y, y].mean()

    expected = 0.5 * directions(i_adv, t) + 0.5 * directions(i, t_adv)
    assert abs(float(loss) - float(expected)) < 1e-4


@pytest.mark.slow
def test_compiled_image_encoder_trains_the_same_steps(tmp_path):
    eager = train(spec(tmp_path, "defenses/tecoa", output_dir=str(tmp_path / "eager")))
    compiled = train(spec(tmp_path, "defenses/tecoa", compile=True,
                          output_dir=str(tmp_path / "compiled")))
    torch.testing.assert_close(torch.tensor(compiled.losses), torch.tensor(eager.losses),
                               rtol=1e-3, atol=1e-4)
    # compiling changes no result: a run may resume with or without it
    assert mmeval.TrainSpec(**spec(tmp_path, "defenses/tecoa", compile=True)).training_hash() == \
        mmeval.TrainSpec(**spec(tmp_path, "defenses/tecoa")).training_hash()


MAT_PGD = {"name": "mmeval/pgd", "params": {"eps": 2 / 255, "steps": 2, "step_size": 1 / 255}}


def test_every_defense_trains_a_step_and_its_checkpoint_loads_both_ways(tmp_path):
    defenses = ["defenses/ft-standard", "defenses/mmcoa",
                {"name": "defenses/mat", "params": {"image_attack": MAT_PGD,
                                                    "text_attack": "textattack/bert-attack-vlm"}},
                {"name": "defenses/mat", "params": {
                    "image_attack": MAT_PGD, "mat_plus": True,
                    "captions_per_image": 3, "text_attack": "textattack/bert-attack-vlm"}}]
    for i, d in enumerate(defenses):
        result = train(spec(tmp_path, d, limit=16, batch_size=16,
                            output_dir=str(tmp_path / f"d{i}")))
        assert len(result.losses) == 1 and torch.isfinite(torch.tensor(result.losses)).all()
        ckpt = result.model["params"]["pretrained"]
        assert ckpt.endswith(".safetensors") and Path(ckpt).is_file()
    # the last checkpoint as `pretrained=` and as the defense's checkpoint give the same numbers
    name = d["name"]
    ev = mmeval.evaluate({
        "models": [result.model,
                   {**TINY, "include_undefended": False,
                    "defenses": [{"name": name, "params": {**d["params"], "checkpoint": ckpt}}]}],
        "tasks": [{"dataset": {"name": "shapes", "params": {"n": 40}}}], "attacks": ["clean"],
        "metrics": ["clean-accuracy"], "run": {"progress": False}})
    a, b = (c["metrics"]["clean-accuracy"]["value"] for c in ev.cells)
    assert a == b


def test_bad_train_specs_fail_before_compute_with_the_field_path(tmp_path):
    with pytest.raises(SpecError, match="defense.name"):
        train(spec(tmp_path, "defenses/tecao"))
    with pytest.raises(SpecError, match=r"defense.params.image_attack"):
        train(spec(tmp_path, {"name": "defenses/mat", "params": {
            "text_attack": "textattack/bert-attack-vlm"}}))
    with pytest.raises(SpecError, match=r"defense.params.text_attack.name"):
        train(spec(tmp_path, {"name": "defenses/mmcoa",
                              "params": {"text_attack": "mmeval/pgd"}}))
    with pytest.raises(SpecError, match="optimizer.lr"):
        train({**spec(tmp_path, "defenses/tecoa"), "optimizer": {"name": "sgd"}})
    assert not (tmp_path / "run").exists()
    # an EvalSpec naming a weight defense without its checkpoint fails at plan time
    with pytest.raises(SpecError, match=r"models\[0\].defenses\[0\].params.checkpoint"):
        mmeval.plan({"models": [{**TINY, "defenses": ["defenses/tecoa"]}],
                     "tasks": ["shapes"], "attacks": ["clean"]})


def test_cli_train_reports_errors_with_exit_code_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(spec(tmp_path, {"name": "defenses/tecoa", "params": {"eps": 1}})))
    proc = subprocess.run([sys.executable, "-m", "mmeval", "train", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "defense.params.eps" in proc.stderr and "Traceback" not in proc.stderr


def _train_cli(spec_path: Path) -> Watched:
    out = Path(json.loads(spec_path.read_text())["output_dir"])
    return Watched([sys.executable, "-m", "mmeval", "train", str(spec_path)], watch=[out])


def test_training_killed_after_an_epoch_resumes_with_the_same_losses(tmp_path):
    """SIGKILL once epoch 1's checkpoint exists; the resumed run's later losses equal those of an
    uninterrupted run (CPU, fixed seed)."""
    def write(name: str) -> Path:
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({
            "model": {"name": "mmeval/toy-vlm"}, "dataset": {"name": "toy", "params": {"n": 1024}},
            "defense": {"name": "defenses/tecoa", "params": {"image_attack": {
                "name": "mmeval/pgd", "params": {"eps": 8 / 255, "steps": 20}}}},
            "epochs": 3, "batch_size": 16, "optimizer": {"name": "adam", "lr": 1e-3},
            "progress": False, "output_dir": str(tmp_path / name)}))
        return path

    full = _train_cli(write("full")).wait()
    assert full.returncode == 0, full.stderr
    reference = json.loads((tmp_path / "full" / "train.json").read_text())["losses"]

    killed = _train_cli(write("killed"))
    first = tmp_path / "killed" / "epoch-001" / "train_state.pt"
    while not first.exists() and killed.alive():
        time.sleep(0.02)
    killed.kill()
    assert not (tmp_path / "killed" / "epoch-003").exists(), "the run ended before the kill"
    resumed = _train_cli(tmp_path / "killed.json").wait()
    assert resumed.returncode == 0, resumed.stderr
    log = json.loads((tmp_path / "killed" / "train.json").read_text())
    assert log["losses"] == reference
    assert [e["epoch"] for e in log["epochs"]] == [1, 2, 3]


def test_torchrun_two_ranks_train_and_write_one_checkpoint(tmp_path):
    path = tmp_path / "ddp.json"
    path.write_text(json.dumps({
        "model": {"name": "mmeval/toy-vlm"}, "dataset": {"name": "toy", "params": {"n": 64}},
        "defense": "defenses/tecoa", "epochs": 2, "batch_size": 16,
        "optimizer": {"name": "adam", "lr": 1e-3}, "progress": False,
        "output_dir": str(tmp_path / "ddp")}))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = run_watched([sys.executable, "-m", "torch.distributed.run", "--standalone",
                        "--nproc-per-node", "2", "-m", "mmeval", "train", str(path)], env=env,
                       watch=[tmp_path / "ddp"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = json.loads((tmp_path / "ddp" / "train.json").read_text())
    assert len(log["losses"]) == 2 * 64 // 16  # each step is one global batch of 16 (8 per rank)
    model = load(log["model"])
    assert not torch.equal(model.image_tower[1].weight,
                           create_model("mmeval/toy-vlm").image_tower[1].weight)


def test_a_checkpoint_whose_log_was_never_written_resumes(tmp_path):
    """Killed after epoch 1's checkpoint was renamed into place but before train.json was written:
    the checkpoint carries its epoch records, so the run resumes to the same losses."""
    import shutil

    toy = {"model": {"name": "mmeval/toy-vlm"}, "dataset": {"name": "toy", "params": {"n": 64}},
           "batch_size": 16, "optimizer": {"name": "adam", "lr": 1e-3}}
    full = train(spec(tmp_path, "defenses/tecoa", epochs=2, **toy))
    out = tmp_path / "run"
    shutil.rmtree(out / "epoch-002")
    (out / "train.json").unlink()
    resumed = train(spec(tmp_path, "defenses/tecoa", epochs=2, **toy))
    assert resumed.losses == full.losses
    assert [e["epoch"] for e in resumed.epochs] == [1, 2]
