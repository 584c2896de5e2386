"""The batched Co-Attack/SGA/MMCoA BERT-Attack variant on the tiny CLIP + tiny MLM."""

import pytest
import torch
from mmeval_textattack.compat import Compat
from mmeval_textattack.mlm import load_mlm
from mmeval_textattack.offline import STOPWORDS
from mmeval_textattack.scores import kl_from
from mmeval_textattack.vlm_variant import VLMBertAttackEngine

from mmeval import Store, create, create_model, evaluate

SHAPES = tuple(create("dataset", "shapes", n=1, classes="shape").class_names)

PROMPTS = [f"This is a photo of a {s}" for s in SHAPES]


@pytest.fixture(scope="module")
def engine_parts():
    model = create_model("zoo/tiny-clip-shapes").eval()
    mlm, tok = load_mlm("zoo/tiny-mlm-shapes")
    return model, mlm, tok


def make(parts, **kw):
    model, mlm, tok = parts
    return VLMBertAttackEngine(mlm, tok, lambda t: model.encode_text(t), max_length=24, **kw)


def top_k(tok, logits, k=10):
    """The MLM's top-k tokens at one position; ties within float noise of the k-th logit count
    (the engine's padded batch and this unpadded call differ in the last digits)."""
    kth = logits.topk(k).values[-1]
    return tok.convert_ids_to_tokens((logits >= kth - 1e-4).nonzero().flatten().tolist())


def goals(model, texts):
    with torch.no_grad():
        return [kl_from(e) for e in model.encode_text(texts)]


def test_one_word_topk_candidate_and_kl_not_below_original(engine_parts):
    model, mlm, tok = engine_parts
    results = make(engine_parts).attack(PROMPTS, goals(model, PROMPTS))
    moved = 0
    for orig, (adv, changed, queries) in zip(PROMPTS, results, strict=True):
        diffs = [(i, a, b) for i, (a, b) in enumerate(zip(orig.split(), adv.split(), strict=True))
                 if a != b]
        assert len(diffs) == changed <= 1 and queries > 0
        for pos, old, new in diffs:
            assert old.lower() not in STOPWORDS
            enc = tok(orig, return_tensors="pt")
            with torch.no_grad():
                logits = mlm(**enc).logits[0]
            assert new in top_k(tok, logits[enc.word_ids().index(pos)])
        with torch.no_grad():
            clean, chosen = model.encode_text([orig, adv])
        kl = kl_from(clean)(chosen[None])[0]
        assert kl >= 0  # the original (KL 0) is always a candidate
        moved += bool(kl > 0)
    assert moved >= len(PROMPTS) // 2


def test_batched_equals_one_at_a_time_and_is_deterministic(engine_parts):
    model = engine_parts[0]
    engine = make(engine_parts)
    batched = engine.attack(PROMPTS, goals(model, PROMPTS))
    single = [engine.attack([p], goals(model, [p]))[0] for p in PROMPTS]
    assert [r[0] for r in batched] == [r[0] for r in single]
    assert engine.attack(PROMPTS, goals(model, PROMPTS)) == batched


def test_reference_offset_takes_candidates_from_the_previous_token(engine_parts):
    model, mlm, tok = engine_parts
    text = "a small red circle in the top left"
    results = make(engine_parts, compat=Compat(offset=True), threshold=0).attack(
        [text], goals(model, [text]))
    adv = results[0][0]
    assert tok.convert_ids_to_tokens(tok(text)["input_ids"])[0] == "[CLS]"
    diffs = [(i, b) for i, (a, b) in enumerate(zip(text.split(), adv.split(), strict=True)) if a != b]
    assert diffs  # any change raises the KL above the original's 0
    enc = tok(text, return_tensors="pt")
    with torch.no_grad():
        logits = mlm(**enc).logits[0]
    for pos, new in diffs:
        before = enc.word_ids().index(pos) - 1  # the token before the word ([CLS] for word 0)
        assert new in top_k(tok, logits[before])


def test_runs_through_mmeval_on_all_tasks(tmp_path):
    spec = {"name": "vlm", "models": ["zoo/tiny-clip-shapes"],
            "tasks": [{"dataset": {"name": "shapes", "params": {"n": 10, "classes": "shape"}},
                       "label": "s10"},
                      {"dataset": {"name": "shapes", "params": {"n": 6}}, "objective": "retrieval",
                       "label": "ret"}],
            "attacks": ["clean", "textattack/bert-attack-vlm",
                        {"name": "textattack/bert-attack-vlm", "params": {"mode": "class-prompts"},
                         "label": "prompts"},
                        {"name": "textattack/bert-attack-vlm", "params": {"caption_goal": "kl"},
                         "label": "kl-captions"}],
            "metrics": ["robust-accuracy", "tr@1", "words-perturbed"],
            "run": {"batch_size": 5, "progress": False}}
    result = evaluate(spec, out=tmp_path)
    assert {c["status"] for c in result.cells} == {"done"}, [c["error"] for c in result.cells]
    assert result.metric("robust-accuracy", task="s10", attack="textattack/bert-attack-vlm").value < 1
    assert result.metric("tr@1", task="ret", attack="textattack/bert-attack-vlm").value <= \
        result.metric("tr@1", task="ret", attack="clean").value
    with Store(tmp_path) as store:
        by_goal = {a: [r.extra.get("adv_texts") for r in store.records(c["id"])]
                   for c in result.cells if c["task"] == "ret"
                   for a in [c["attack"]] if a != "clean"}
        assert by_goal["kl-captions"] != by_goal["textattack/bert-attack-vlm"]  # goals differ
        for c in result.cells:
            for r in store.records(c["id"]):
                assert r.extra.get("words_changed", 0) <= (5 if c["task"] == "ret" else 10)


def test_the_kl_caption_goal_by_hand():
    """Co-Attack's goal: KL(softmax(e_clean) || softmax(e_candidate)) summed over dimensions."""
    from mmeval_textattack.scores import kl_from

    clean = torch.tensor([1.0, 0.0, -1.0])
    cand = torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    p = torch.exp(clean) / torch.exp(clean).sum()
    q = torch.exp(cand[1]) / torch.exp(cand[1]).sum()
    by_hand = float((p * (p / q).log()).sum())
    got = kl_from(clean)(cand)
    assert got[0].abs() < 1e-7 and abs(float(got[1]) - by_hand) < 1e-6 and by_hand > 0.1


def test_runs_on_audio_text_tasks_against_the_waveforms_embeddings(tmp_path):
    prompt = {"template": "this is the sound of a {}"}
    spec = {"name": "vlm-audio", "models": ["zoo/tiny-clap-shapes"],
            "tasks": [{"dataset": {"name": "sounds", "params": {"n": 10, "classes": "shape"}},
                       "objective": {"name": "zero-shot", "params": prompt}, "label": "s10"},
                      {"dataset": {"name": "sounds", "params": {"n": 6}}, "objective": "retrieval",
                       "label": "ret"}],
            "attacks": ["clean", "textattack/bert-attack-vlm", "textattack/bert-attack"],
            "metrics": ["robust-accuracy", "tr@1", "words-perturbed"],
            "run": {"batch_size": 5, "progress": False}}
    result = evaluate(spec, out=tmp_path)
    assert {c["status"] for c in result.cells} == {"done"}, [c["error"] for c in result.cells]
    for attack in ("textattack/bert-attack-vlm", "textattack/bert-attack"):
        assert result.metric("robust-accuracy", task="s10", attack=attack).value < \
            result.metric("robust-accuracy", task="s10", attack="clean").value
    with Store(tmp_path) as store:
        attacked = [r for c in result.cells if c["attack"] != "clean"
                    for r in store.records(c["id"])]
    assert all(r.linf == 0 and r.extra["snr_db"] is None for r in attacked)  # waveforms untouched
    assert any(r.extra.get("words_changed", 0) > 0 for r in attacked)
