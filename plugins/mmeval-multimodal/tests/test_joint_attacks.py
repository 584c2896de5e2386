"""Sep-Attack, Co-Attack and SGA on the tiny CLIP + tiny MLM: threat model, determinism, the SGA
reduction to PGD, stage validation, and end to end through mmeval on both objectives."""

import difflib

import pytest
import torch
from mmeval_multimodal.co_attack import CoAttack
from mmeval_multimodal.declared import CoAttackParams, SGAParams
from mmeval_multimodal.sga import SGA

from mmeval import (
    PGD,
    Batch,
    BatchRandom,
    IncompatibleComponentsError,
    PGDParams,
    SpecError,
    Store,
    build_stage,
    create,
    create_model,
    evaluate,
    get_host,
    plan,
)

EPS = 2 / 255
ATTACKS = ["multimodal/sep-attack", "multimodal/co-attack", "multimodal/sga"]


@pytest.fixture(scope="module")
def model():
    return create_model("zoo/tiny-clip-shapes").eval()


def task(model, kind):
    data = create("dataset", "shapes", n=6, seed=3)
    objective = create("objective", "zero-shot" if kind == "classification" else "retrieval")
    objective.prepare(model, data)
    return Batch.collate([data[i] for i in range(len(data))]), objective


def words_changed(a: str, b: str) -> int:
    ops = difflib.SequenceMatcher(a=a.split(), b=b.split(), autojunk=False).get_opcodes()
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")


def attack(name, **params):
    return get_host().registry.get("attack", name).build(params)


@pytest.mark.parametrize("kind", ["classification", "retrieval"])
@pytest.mark.parametrize("name", ATTACKS)
def test_within_budget_and_deterministic(model, name, kind):
    batch, objective = task(model, kind)
    seeds = list(range(len(batch)))
    out = attack(name)(model, batch, objective, BatchRandom(seeds))
    again = attack(name)(model, batch, objective, BatchRandom(seeds))
    x = batch.images
    assert out.images is not None and out.images.shape == x.shape
    assert (out.images - x).abs().max() <= EPS + 1e-6
    assert out.images.min() >= 0 and out.images.max() <= 1
    assert (out.images != x).any()
    assert torch.equal(out.images, again.images) and out.texts == again.texts
    assert out.prompts == again.prompts
    if kind == "retrieval":
        assert out.prompts is None and out.texts is not None
        pairs = [(a, b) for old, new in zip(batch.texts, out.texts, strict=True)
                 for a, b in zip(old, new, strict=True)]
    else:
        assert out.texts is None and out.prompts is not None
        pairs = [(a, b) for ps in out.prompts for a, b in zip(objective.prompts, ps, strict=True)]
    assert all(words_changed(a, b) <= 1 for a, b in pairs)
    assert any(a != b for a, b in pairs)
    assert len(out.info["words_changed"]) == len(batch)


class CosineToTexts:
    """The loss of SGA's image step with a single view: minus the summed cosine between each
    image and its texts' embeddings."""

    kind = "classification"

    def __init__(self, texts, owner):
        self.texts, self.owner = texts, owner

    def loss(self, model, images, batch):
        cos = (model.encode_image(images).float()[self.owner] * self.texts).sum(dim=-1)
        return -torch.zeros(len(images)).index_add(0, self.owner, cos)


@pytest.mark.parametrize("kind", ["classification", "retrieval"])
def test_sga_without_scales_is_pgd_on_its_cosine_loss(model, kind):
    from mmeval_multimodal.joint import embed_sets, paired_texts

    batch, objective = task(model, kind)
    seeds = [7 * i for i in range(len(batch))]
    sga = SGA(SGAParams(scales=[]))
    first = sga.text_stage(model, batch, objective, BatchRandom(seeds))
    u, owner = embed_sets(model, paired_texts(model, batch, objective, first))
    pgd = PGD(PGDParams(eps=EPS, steps=10, step_size=0.5 / 255))
    expected = pgd(model, batch, CosineToTexts(u, owner), BatchRandom(seeds)).images
    got = sga(model, batch, objective, BatchRandom(seeds)).images
    assert torch.equal(got, expected)
    with_scales = SGA()(model, batch, objective, BatchRandom(seeds)).images
    assert not torch.equal(with_scales, expected)  # the scaled views change the gradient


def test_sga_views_are_five_per_image(model):
    x = torch.rand(3, 3, 48, 48)
    views = SGA().views(x, BatchRandom([1, 2, 3]))
    assert len(views) == 5 and all(v.shape == x.shape for v in views)
    assert torch.equal(views[0], x)


def test_co_attack_one_sided_start_and_loss_ascent(model):
    batch, objective = task(model, "retrieval")
    seeds = list(range(len(batch)))
    start = CoAttack(CoAttackParams(steps=0, init="one-sided"))(model, batch, objective,
                                                                BatchRandom(seeds)).images
    delta = start - batch.images
    assert (delta >= 0).all() and delta.max() > 0  # eps * U(0, 1), clamped into [0, 1]
    two_sided = CoAttack(CoAttackParams(steps=0))(model, batch, objective, BatchRandom(seeds)).images
    assert ((two_sided - batch.images) < 0).any()
    zero = CoAttack(CoAttackParams(eps=0.0))(model, batch, objective, BatchRandom(seeds)).images
    assert torch.equal(zero, batch.images)


def test_stages_are_validated_at_their_field_path():
    spec = {"models": ["mmeval/toy-vlm"], "tasks": ["toy"],
            "attacks": [{"name": "multimodal/co-attack",
                         "params": {"text_attack": {"name": "textatack/bert-attack-vlm"}}}]}
    with pytest.raises(SpecError, match="did you mean") as err:
        plan(spec)
    assert err.value.path == "attacks[0].params.text_attack.name"
    spec["attacks"][0]["params"]["text_attack"] = "mmeval/pgd"
    with pytest.raises(IncompatibleComponentsError, match="needs a text attack") as err:
        plan(spec)
    assert err.value.path == "attacks[0].params.text_attack.name"
    spec["attacks"][0] = {"name": "multimodal/sep-attack",
                          "params": {"image_attack": {"name": "mmeval/pgd", "params": {"eps": -1}}}}
    with pytest.raises(SpecError) as err:
        plan(spec)
    assert err.value.path == "attacks[0].params.image_attack.params.eps"


def test_stage_is_the_registered_attack():
    stage = build_stage(SGAParams().text_attack)
    assert type(stage).__name__ == "VLMBertAttack"


def test_end_to_end_on_both_objectives(tmp_path):
    spec = {"name": "joint", "models": ["zoo/tiny-clip-shapes"],
            "tasks": [{"dataset": {"name": "shapes", "params": {"n": 8, "classes": "shape"}},
                       "label": "s10"},
                      {"dataset": {"name": "shapes", "params": {"n": 8}}, "objective": "retrieval",
                       "label": "ret"}],
            "attacks": ["clean", *ATTACKS],
            "run": {"batch_size": 4, "progress": False}}
    result = evaluate(spec, out=tmp_path)
    assert {c["status"] for c in result.cells} == {"done"}, [c["error"] for c in result.cells]
    for name in ATTACKS:
        assert result.metric("robust-accuracy", task="s10", attack=name).value < \
            result.metric("robust-accuracy", task="s10", attack="clean").value
        for d in ("tr", "ir"):
            asr = result.metric(f"{d}@1 asr-relative", task="ret", attack=name)
            assert 0 <= asr.value <= 1
    with Store(tmp_path) as store:
        for c in result.cells:
            for r in store.records(c["id"]):
                assert r.linf <= EPS + 1e-6
                if c["attack"] != "clean":
                    assert r.extra["words_changed"] <= (5 if c["task"] == "ret" else 1)


def test_co_attack_text_stage_uses_its_papers_kl_goal_by_default():
    from mmeval import create

    co = create("attack", "multimodal/co-attack")
    assert co.text_stage.params.caption_goal == "kl"
    assert create("attack", "multimodal/sga").text_stage.params.caption_goal == "image"


def test_sga_encodes_its_views_in_one_batch_with_the_loss_of_one_pass_per_view():
    """The batched image-set loss equals the per-view sum (the reference's five passes) to float
    tolerance, and the encoder is called once per step."""
    import torch.nn.functional as F

    from mmeval import BatchRandom, create, create_model

    model = create_model("zoo/tiny-clip-shapes").eval()
    sga = create("attack", "multimodal/sga")
    x = torch.rand(3, 3, 48, 48)
    u = F.normalize(torch.randn(3, 128), dim=-1)
    owner = torch.arange(3)
    rng_a, rng_b = BatchRandom([1, 2, 3]), BatchRandom([1, 2, 3])
    calls = []
    encode = model.encode_image

    def counting(images):
        calls.append(len(images))
        return encode(images)

    with torch.no_grad():
        views = sga.views(x, rng_a)
        per_view = sum(-(encode(v).float()[owner] * u).sum(-1) for v in views)
        model.encode_image = counting
        emb = model.encode_image(torch.cat(sga.views(x, rng_b))).float().view(-1, 3, 128)
        batched = -(emb[:, owner] * u).sum(-1).sum(0)
    assert calls == [15]  # 5 views x 3 images, one pass
    torch.testing.assert_close(batched, per_view, rtol=1e-5, atol=1e-5)


def test_sga_run_calls_the_encoder_once_per_step_on_all_views():
    from mmeval import Batch, BatchRandom, create, create_model

    model = create_model("zoo/tiny-clip-shapes").eval()
    data = create("dataset", "shapes", n=4)
    objective = create("objective", "retrieval")
    objective.prepare(model, data)
    batch = Batch.collate([data[i] for i in range(4)])
    sizes = []
    encode = model.encode_image
    model.encode_image = lambda images: sizes.append(len(images)) or encode(images)
    sga = create("attack", "multimodal/sga", steps=3)
    sga(model, batch, objective, BatchRandom([0, 1, 2, 3]))
    assert sizes.count(5 * 4) == 3 and max(sizes) == 5 * 4


@pytest.mark.parametrize("name", ATTACKS)
def test_reference_mode_runs_the_text_stage_in_its_reference_mode(name):
    assert create("attack", name).text_stage.params.compat == "paper"
    joint = create("attack", name, compat="reference")
    assert joint.text_stage.params.compat == "reference"
    if name == "multimodal/co-attack":  # the stage's other params stay (Co-Attack's KL goal)
        assert joint.text_stage.params.caption_goal == "kl"
    spec = {"models": ["mmeval/toy-vlm"], "tasks": ["toy"],
            "attacks": [{"name": name, "params": {
                "compat": "reference",
                "text_attack": {"name": "textattack/bert-attack-vlm", "params": {"compat": "paper"}}}}]}
    with pytest.raises(SpecError, match="reference mode") as err:
        plan(spec)
    assert err.value.path.startswith("attacks[0].params")
    spec["attacks"][0]["params"]["text_attack"] = "textattack/bert-attack"  # no reference mode
    with pytest.raises(SpecError, match="'textattack/bert-attack' has none") as err:
        plan(spec)
    assert err.value.path == "attacks[0].params"


def test_co_attack_reference_mode_takes_its_first_gradient_unclamped(model):
    """The reference's first iterate is x + eps * U(0, 1), above 1 near white; later iterates and
    the output are in [0, 1]."""
    batch, objective = task(model, "retrieval")
    batch = Batch(**{**batch.__dict__, "images": batch.images.clamp(0.0, 1.0 - EPS / 2) + EPS / 2})
    seen = []
    encode = model.encode_image

    def spying(images):
        seen.append(images.detach().clone())
        return encode(images)

    model.encode_image = spying
    try:
        out = CoAttack(CoAttackParams(compat="reference", steps=2))(
            model, batch, objective, BatchRandom(list(range(len(batch)))))
    finally:
        model.encode_image = encode
    firsts = [s for s in seen if s.requires_grad or s.shape == batch.images.shape]
    assert any(s.max() > 1.0 for s in firsts)  # the unclamped start
    assert out.images.min() >= 0 and out.images.max() <= 1
    assert (out.images - batch.images).abs().max() <= EPS + 1e-6
    with pytest.raises(ValueError, match="reference's start"):
        CoAttackParams(compat="reference", init="uniform")
    assert CoAttackParams(compat="reference", init="one-sided").init == "one-sided"


def test_co_attack_reference_mode_guides_each_image_by_its_last_caption(model):
    batch, objective = task(model, "retrieval")
    last = Batch(**{**batch.__dict__, "texts": tuple(t[-1:] for t in batch.texts)})
    seeds = list(range(len(batch)))

    def images(b, compat):
        return CoAttack(CoAttackParams(compat=compat, steps=3))(
            model, b, objective, BatchRandom(seeds)).images

    torch.testing.assert_close(images(batch, "reference"), images(last, "reference"))
    assert not torch.equal(images(batch, "paper"), images(last, "paper"))


def test_co_attack_with_an_audio_stage_end_to_end_on_the_audio_text_model(tmp_path):
    eps = 0.01
    prompt = {"template": "this is the sound of a {}"}
    spec = {"name": "joint-audio", "output_dir": str(tmp_path / "run"),
            "models": ["zoo/tiny-clap-shapes"],
            "tasks": [{"dataset": {"name": "sounds", "params": {"n": 12, "classes": "shape"}},
                       "objective": {"name": "zero-shot", "params": prompt}, "label": "s10"},
                      {"dataset": {"name": "sounds", "params": {"n": 8}}, "objective": "retrieval",
                       "label": "ret"}],
            "attacks": ["clean", {"name": "multimodal/co-attack", "label": "co",
                                  "params": {"modality": "audio", "eps": eps, "steps": 5}}],
            "run": {"batch_size": 4, "progress": False}}
    the_plan = plan(spec)
    assert {c.info.threat.modality for c in the_plan.cells if c.info.attack == "co"} == {"audio+text"}
    result = evaluate(the_plan)
    assert {c["status"] for c in result.cells} == {"done"}, [c["error"] for c in result.cells]
    assert result.metric("robust-accuracy", task="s10", attack="co").value < \
        result.metric("robust-accuracy", task="s10", attack="clean").value
    with Store(result.run_dir) as store:
        attacked = [r for c in result.cells if c["attack"] == "co" for r in store.records(c["id"])]
    assert attacked and all(0 < r.linf <= eps + 1e-6 and r.extra["snr_db"] > 0 for r in attacked)
    assert all(r.extra["words_changed"] <= 5 for r in attacked)
    assert any("adv_texts" in r.extra or "adv_prompts" in r.extra for r in attacked)
