"""torchattacks through mmeval: every attack on the tiny CLIP, checked against its threat model."""

import pytest
import torch
import torchattacks
from mmeval_torchattacks import ObjectiveLogits
from mmeval_torchattacks.adapter import PerSampleDraws
from mmeval_torchattacks.catalogue import BATCH_INVARIANT, signal_attacks
from mmeval_torchattacks.plugin import ATTACKS

from mmeval import (
    Batch,
    BatchRandom,
    IncompatibleComponentsError,
    PluginHost,
    create,
    create_model,
    evaluate,
    plan,
    sample_seed,
)
from mmeval.testing import toy_spec

# small settings so the whole catalogue runs in seconds; everything else keeps its default
FAST = {"apgd": {"steps": 5}, "apgdt": {"steps": 5}, "fab": {"steps": 5},
        "square": {"n_queries": 50}, "cw": {"steps": 10}, "deepfool": {"steps": 5},
        "onepixel": {"steps": 2, "popsize": 5}, "autoattack": {"eps": 4 / 255}}


@pytest.fixture(scope="module")
def host():
    host = PluginHost()
    assert ("attack", "torchattacks/pgd") in host.registry, "the plugin entry point is not installed"
    return host


@pytest.fixture(scope="module")
def setup():
    model = create_model("zoo/tiny-clip-shapes", image_size=16).eval()
    data = create("dataset", "shapes", n=8, image_size=16, classes="shape")
    batch = Batch.collate([data[i] for i in range(len(data))])
    objective = create("objective", "zero-shot")
    objective.prepare(model, data)
    return model, batch, objective


def rng_for(batch):
    return BatchRandom([sample_seed(0, "cell", s) for s in batch.sample_ids])


def test_every_attack_is_registered(host):
    names = {c.name for c in host.registry.components("attack")}
    assert {f"torchattacks/{a.lower()}" for a in ATTACKS} <= names
    assert len(ATTACKS) >= 17


@pytest.mark.parametrize("name", [a.lower() for a in ATTACKS])
def test_every_attack_runs_and_obeys_its_threat_model(host, setup, name):
    model, batch, objective = setup
    attack = host.registry.get("attack", f"torchattacks/{name}").build(FAST.get(name, {}))
    out = attack(model, batch, objective, rng_for(batch))  # the core verifies and projects
    adv = out.images
    assert adv.shape == batch.images.shape
    assert adv.min() >= 0 and adv.max() <= 1
    tm = attack.threat_model
    delta = (adv - batch.images).flatten(1)
    if tm.norm == "linf":
        assert delta.abs().max() <= tm.eps + 1e-6
    elif tm.norm == "l2":
        assert delta.norm(dim=1).max() <= tm.eps + 1e-5
    else:
        assert tm.eps is None  # minimal-perturbation attacks: bounds only
    assert not model.training
    assert all(p.grad is None for p in model.parameters())


def test_pgd_through_the_adapter_equals_torchattacks_called_directly(host, setup):
    model, batch, objective = setup
    rng = rng_for(batch)
    ours = host.registry.get("attack", "torchattacks/pgd").build(
        {"eps": 4 / 255, "alpha": 1 / 255, "steps": 5})(model, batch, objective, rng).images
    direct_atk = torchattacks.PGD(ObjectiveLogits(model, objective), eps=4 / 255, alpha=1 / 255,
                                  steps=5)
    with torch.random.fork_rng(), PerSampleDraws(rng_for(batch), len(batch)):
        torch.manual_seed(rng.batch_seed())
        direct = direct_atk(batch.images, batch.labels)
    assert torch.equal(ours, direct)


def test_targeted_mode(host, setup):
    model, batch, objective = setup
    attack = host.registry.get("attack", "torchattacks/pgd").build(
        {"eps": 16 / 255, "steps": 20, "targeted": "least-likely"})
    with torch.no_grad():
        clean = objective.logits(model, batch.images)
    least = clean.argmin(dim=1, keepdim=True)
    adv = attack(model, batch, objective, rng_for(batch)).images
    with torch.no_grad():
        logits = objective.logits(model, adv)
    # rank 0 = top prediction; the least likely class starts last and moves to the front
    rank = (logits > logits.gather(1, least)).sum(dim=1).float()
    assert (clean > clean.gather(1, least)).sum(dim=1).float().mean() == clean.shape[1] - 1
    assert rank.mean() <= 2, rank


def test_autoattack_is_at_least_as_strong_as_pgd10(host, tmp_path):
    attacks = [{"name": "torchattacks/pgd", "label": "pgd-2",
                "params": {"eps": 2 / 255, "alpha": 0.5 / 255, "steps": 10}},
               {"name": "torchattacks/autoattack", "label": "aa-2", "params": {"eps": 2 / 255}}]
    spec = {
        "name": "aa-vs-pgd",
        "models": [{"name": "zoo/tiny-clip-shapes"}],
        "tasks": [{"dataset": {"name": "shapes", "params": {"n": 32, "classes": "shape"}}}],
        "attacks": attacks,
        "run": {"batch_size": 32, "progress": False},
    }
    result = evaluate(spec, out=tmp_path, host=host)
    assert {c["status"] for c in result.cells} == {"done"}
    acc = {c["attack"]: c["metrics"]["robust-accuracy"]["value"] for c in result.cells}
    assert acc["pgd-2"] > 0.1, acc  # 2/255 leaves something for AutoAttack to find
    assert acc["aa-2"] <= acc["pgd-2"], acc


def test_retrieval_runs_as_classification_over_gallery_captions(host, tmp_path):
    spec = {
        "name": "ta-retrieval",
        "models": [{"name": "zoo/tiny-clip-shapes"}],
        "tasks": [{"dataset": {"name": "shapes", "params": {"n": 40}}, "objective": "retrieval"}],
        "attacks": ["clean", {"name": "torchattacks/pgd", "params": {"eps": 4 / 255, "steps": 10}}],
        "run": {"batch_size": 20, "progress": False},
    }
    result = evaluate(spec, out=tmp_path, host=host)
    clean, pgd = result.cells
    assert pgd["status"] == "done"
    assert pgd["metrics"]["tr@1"]["value"] < clean["metrics"]["tr@1"]["value"]


def test_per_class_attacks_are_rejected_on_retrieval_by_plan(host):
    spec = {
        "models": [{"name": "zoo/tiny-clip-shapes"}],
        "tasks": [{"dataset": "shapes", "objective": "retrieval"}],
        "attacks": ["torchattacks/deepfool"],
    }
    with pytest.raises(IncompatibleComponentsError, match="classification"):
        plan(spec, host)


def test_targeted_param_exactly_where_torchattacks_supports_it(host):
    probe = torch.nn.Linear(2, 2)
    for name in ATTACKS:
        supported = "targeted" in getattr(torchattacks, name)(probe).supported_mode
        params = host.registry.get("attack", f"torchattacks/{name.lower()}").params_model()
        assert ("targeted" in params.model_fields) == supported, name


def test_params_mirror_torchattacks_defaults_and_reject_unknown_fields(host):
    pgd = host.registry.get("attack", "torchattacks/pgd")
    params = pgd.params_model()()
    assert (params.eps, params.alpha, params.steps, params.random_start) == (8 / 255, 2 / 255, 10, True)
    with pytest.raises(Exception, match="unknown field"):
        pgd.validate_params({"epsilon": 0.1}, "attacks[0].params")


def test_every_torchattacks_class_is_registered_or_refused_with_a_reason(host):
    from mmeval_torchattacks.plugin import REFUSED
    from torchattacks.attack import Attack

    classes = {n for n in dir(torchattacks) if isinstance(getattr(torchattacks, n), type)
               and issubclass(getattr(torchattacks, n), Attack) and getattr(torchattacks, n) is not Attack}
    assert classes == set(ATTACKS) | set(REFUSED) and len(classes) == 39
    listed = [c.name for c in host.registry.components("attack")
              if c.name.startswith("torchattacks/")]
    assert len(listed) == 39
    for name, reason in (("lgv", "training loader"), ("multiattack", "worst-case-robust-accuracy")):
        with pytest.raises(IncompatibleComponentsError,
                           match=rf"^attacks\[0\]: torchattacks\.\w+ is not supported: .*{reason}"):
            plan(toy_spec(attacks=[{"name": f"torchattacks/{name}", "params": {"epochs": 1}}]),
                 host)


AUDIO = [name.removeprefix("torchattacks/") for name in signal_attacks("audio")]


@pytest.fixture(scope="module")
def audio_setup():
    model = create_model("zoo/tiny-clap-shapes").eval()
    data = create("dataset", "sounds", n=6)
    batch = Batch.collate([data[i] for i in range(len(data))])
    objective = create("objective", "zero-shot", template="this is the sound of a {}")
    objective.prepare(model, data)
    return model, batch, objective


@pytest.mark.parametrize("name", AUDIO)
def test_signal_agnostic_attacks_run_on_waveforms_within_amplitude_budgets(host, audio_setup, name):
    model, batch, objective = audio_setup
    params = {**FAST.get(name, {}), "modality": "audio"}
    if "eps" in host.registry.get("attack", f"torchattacks/{name}").params_model().model_fields:
        params["eps"] = params.get("eps", 0.004)
    attack = host.registry.get("attack", f"torchattacks/{name}").build(params)
    out = attack(model, batch, objective, rng_for(batch))
    assert out.images is None and out.audio.shape == batch.audio.shape
    assert out.audio.min() >= -1 and out.audio.max() <= 1
    tm = attack.threat_model
    assert tm.modality == "audio"
    delta = (out.audio - batch.audio).flatten(1)
    if tm.norm == "linf":
        assert delta.abs().max() <= tm.eps + 1e-6 and delta.abs().max() > tm.eps / 4
    elif tm.norm == "l2":
        assert delta.norm(dim=1).max() <= tm.eps + 1e-5


def test_audio_pgd_budget_is_in_amplitude_units_and_matches_torchattacks_on_the_unit_scale(
        host, audio_setup):
    model, batch, objective = audio_setup
    rng = rng_for(batch)
    ours = host.registry.get("attack", "torchattacks/pgd").build(
        {"modality": "audio", "eps": 0.004, "alpha": 0.001, "steps": 5})(
        model, batch, objective, rng).audio
    net = ObjectiveLogits(model, objective, "audio")
    direct_atk = torchattacks.PGD(net, eps=0.002, alpha=0.0005, steps=5)
    with torch.random.fork_rng(), PerSampleDraws(rng_for(batch), len(batch)):
        torch.manual_seed(rng.batch_seed())
        direct = direct_atk(((batch.audio + 1) / 2).view(6, 1, 1, -1), batch.labels)
    assert torch.allclose(ours, direct.view(6, -1) * 2 - 1, atol=1e-6)
    assert (ours - batch.audio).abs().max() == pytest.approx(0.004, abs=1e-5)


def test_picture_only_attacks_are_refused_on_audio_at_plan_time(host):
    spec = {"models": ["zoo/tiny-clap-shapes"], "tasks": [{"dataset": "sounds"}],
            "attacks": [{"name": "torchattacks/difgsm", "params": {"modality": "audio"}}]}
    with pytest.raises(IncompatibleComponentsError, match=r"attacks\[0\]: torchattacks.DIFGSM "
                                                          r"works on images only.*torchattacks/pgd"):
        plan(spec, host)


def _in_batches(host, name: str, size: int, n: int = 24) -> torch.Tensor:
    model = create_model("zoo/tiny-clip-shapes", image_size=16).eval()
    data = create("dataset", "shapes", n=n, image_size=16, classes="shape")
    objective = create("objective", "zero-shot")
    objective.prepare(model, data)
    attack = host.registry.get("attack", f"torchattacks/{name}").build(FAST.get(name, {}))
    out = []
    for start in range(0, n, size):
        batch = Batch.collate([data[i] for i in range(start, start + size)])
        out.append(attack(model, batch, objective, rng_for(batch)).images)
    return torch.cat(out)


QUICK_INVARIANT = ("pgd", "eotpgd", "tpgd", "ffgsm", "jitter")


@pytest.mark.parametrize("name", [
    n if n in QUICK_INVARIANT else pytest.param(n, marks=pytest.mark.slow)
    for n in sorted(BATCH_INVARIANT)])
def test_batch_invariant_attacks_give_each_sample_the_same_result_in_any_batch(host, name):
    """Random starts and noise come from each sample's own stream (PerSampleDraws): batches of
    8 and of 24 give the same adversarial images."""
    torch.testing.assert_close(_in_batches(host, name, 8), _in_batches(host, name, 24),
                               rtol=0, atol=1e-5)


def test_the_batch_invariant_set_names_registered_attacks():
    assert {a.lower() for a in ATTACKS} >= BATCH_INVARIANT
