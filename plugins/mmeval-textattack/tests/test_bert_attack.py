"""BERT-Attack from TextAttack components on the tiny CLIP + tiny MLM, offline."""

import math
import os
import re
import sys

import pytest
import torch
from mmeval_textattack.mlm import load_mlm
from mmeval_textattack.offline import STOPWORDS
from mmeval_textattack.scores import kl_from

from mmeval import PluginHost, Store, create, create_model, evaluate, plan
from mmeval.testing import run_watched

SHAPES = tuple(create("dataset", "shapes", n=1, classes="shape").class_names)

SPEC = {
    "name": "bert-attack",
    "models": ["zoo/tiny-clip-shapes"],
    "tasks": [
        {"dataset": {"name": "shapes", "params": {"n": 12, "classes": "shape"}}, "label": "shapes-10"},
        {"dataset": {"name": "shapes", "params": {"n": 6}}, "objective": "retrieval",
         "label": "retrieval"},
    ],
    "attacks": ["clean", {"name": "textattack/bert-attack", "label": "per-image"},
                {"name": "textattack/bert-attack", "params": {"mode": "class-prompts"},
                 "label": "class-prompts"}],
    "metrics": ["clean-accuracy", "robust-accuracy", "tr@1", "words-perturbed", "queries"],
    "run": {"batch_size": 6, "progress": False},
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    host = PluginHost()
    assert ("attack", "textattack/bert-attack") in host.registry
    out = tmp_path_factory.mktemp("ta")
    result = evaluate(SPEC, out=out / "a", host=host)
    with Store(result.run_dir) as store:
        records = {c["task"] + "/" + c["attack"]: store.records(c["id"]) for c in result.cells}
    return result, records


def changed_words(a: str, b: str) -> list[tuple[int, str, str]]:
    return [(i, x, y) for i, (x, y) in enumerate(zip(a.split(), b.split(), strict=True)) if x != y]


def first_char(text: str, word: int) -> int:
    """Where the ``word``-th whitespace word of ``text`` starts."""
    return [m.start() for m in re.finditer(r"\S+", text)][word]


def adversarial_texts(records):
    for r in records:
        for c, adv in r.extra.get("adv_prompts", {}).items():
            yield r, int(c), adv
        for orig_i, adv in enumerate(r.extra.get("adv_texts", [])):
            yield r, orig_i, adv


def test_all_cells_ran_and_attacks_hurt(run):
    result, _ = run
    assert {c["status"] for c in result.cells} == {"done"}, [c["error"] for c in result.cells]
    for attack in ("per-image", "class-prompts"):
        clean = result.metric("clean-accuracy", task="shapes-10", attack=attack).value
        assert result.metric("robust-accuracy", task="shapes-10", attack=attack).value < clean
    assert result.metric("tr@1", task="retrieval", attack="per-image").value < \
        result.metric("tr@1", task="retrieval", attack="clean").value
    assert result.metric("queries", task="shapes-10", attack="per-image").value > 0


def originals(key, record, idx):
    """The clean text an adversarial prompt (class ``idx``) or caption (``idx``-th) came from."""
    if key.startswith("shapes-10"):
        return f"This is a photo of a {SHAPES[idx]}"
    index = int(record.sample_id.rsplit("-", 1)[1])
    return create("dataset", "shapes", n=index + 1).attributes(index).captions(5)[idx]


def test_budget_and_stopwords(run):
    _, records = run
    checked = 0
    for key, recs in records.items():
        for r, idx, adv in adversarial_texts(recs):
            orig = originals(key, r, idx)
            diffs = changed_words(orig, adv)
            assert len(diffs) <= math.ceil(0.4 * len(orig.split())), (orig, adv)
            for _, old, new in diffs:
                assert old.lower() not in STOPWORDS and "[" not in new, (orig, adv)
            checked += bool(diffs)
    assert checked > 10


def test_each_substitute_is_among_the_mlm_top_k(tmp_path):
    """With a one-word budget the candidates come from the MLM on the original text: each
    substitute must be one of its top-K tokens at that word's first sub-word."""
    spec = {**SPEC, "attacks": [{"name": "textattack/bert-attack", "label": "one-word",
                                 "params": {"max_percent_words": 0.09, "max_candidates": 12}}],
            "metrics": ["robust-accuracy"]}
    result = evaluate(spec, out=tmp_path)
    mlm, tok = load_mlm("zoo/tiny-mlm-shapes")
    checked = 0
    with Store(result.run_dir) as store:
        for c in result.cells:
            for r, idx, adv in adversarial_texts(store.records(c["id"])):
                orig = originals(c["task"], r, idx)
                for pos, _, new in changed_words(orig, adv):
                    enc = tok(orig, return_tensors="pt", return_offsets_mapping=True)
                    spans = enc.pop("offset_mapping")[0].tolist()
                    with torch.no_grad():
                        logits = mlm(**enc).logits[0]
                    # the whitespace word's first sub-word (the tokenizer's own word ids split
                    # punctuation off: "cross," is two of its words)
                    first = [a for a, _ in spans].index(first_char(orig, pos))
                    top = tok.convert_ids_to_tokens(logits[first].topk(12).indices.tolist())
                    if len(tok.tokenize(new)) == 1:
                        assert new in top, (orig, adv, top)
                        checked += 1
    assert checked > 0


def test_class_prompts_move_away_from_the_clean_embedding(run):

    _, records = run
    adv = records["shapes-10/class-prompts"][0].extra["adv_prompts"]
    model = create_model("zoo/tiny-clip-shapes").eval()
    with torch.no_grad():
        for c, text in adv.items():
            clean = model.encode_text([f"This is a photo of a {SHAPES[int(c)]}"])[0]
            assert kl_from(clean)(model.encode_text([text]))[0] > 0  # > KL of the original (0)


def test_deterministic(run, tmp_path):
    _, records = run
    again = evaluate(SPEC, out=tmp_path / "b")
    with Store(again.run_dir) as store:
        for c in again.cells:
            recs = store.records(c["id"])
            first = records[c["task"] + "/" + c["attack"]]
            assert [r.extra for r in recs] == [r.extra for r in first]


def test_textattack_imports_with_the_network_blocked(tmp_path):
    code = ("import socket\n"
            "def refuse(*a, **k): raise OSError('network blocked')\n"
            "socket.socket.connect = refuse\n"
            "import os, mmeval\n"
            "from mmeval_textattack.offline import import_textattack\n"
            "before = dict(os.environ)\n"
            "import_textattack()\n"
            "from textattack.transformations import WordSwapMaskedLM\n"
            "assert dict(os.environ) == before, 'environment changed'\n"
            "print('ok')\n")
    env = {**os.environ, "MMEVAL_CACHE_DIR": str(tmp_path), "HOME": str(tmp_path)}
    proc = run_watched([sys.executable, "-c", code], env=env)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_class_prompt_attacks_perturb_the_first_prompt_of_an_ensemble(tmp_path):
    """With a prompt ensemble the attack rewrites each class's first-template prompt; the class
    embedding is re-averaged with the other templates, and the attack still hurts."""
    templates = ["a photo of a {}", "a drawing of a {}", "a {} shape"]
    spec = {**SPEC, "tasks": [{"dataset": {"name": "shapes", "params": {"n": 12, "classes": "shape"}},
                               "objective": {"name": "zero-shot", "params": {"templates": templates}},
                               "label": "ensemble"}],
            "attacks": ["clean", {"name": "textattack/bert-attack", "label": "per-image"}],
            "metrics": ["clean-accuracy", "robust-accuracy"]}
    result = evaluate(spec, out=tmp_path)
    assert {c["status"] for c in result.cells} == {"done"}, [c["error"] for c in result.cells]
    clean = result.metric("clean-accuracy", attack="per-image").value
    assert result.metric("robust-accuracy", attack="per-image").value < clean
    with Store(result.run_dir) as store:
        cell = next(c for c in result.cells if c["attack"] == "per-image")
        changed = 0
        for _, idx, adv in adversarial_texts(store.records(cell["id"])):
            orig = f"a photo of a {SHAPES[idx]}"
            diffs = changed_words(orig, adv)
            assert len(diffs) <= math.ceil(0.4 * len(orig.split())), (orig, adv)
            changed += bool(diffs)
    assert changed > 0


def test_the_language_model_is_named_and_a_misfit_one_warned_about(run):
    result, _ = run
    cell = next(c for c in result.cells if c["attack"] == "per-image")
    assert cell["language_model"] == "zoo/tiny-mlm-shapes"
    assert "- per-image: zoo/tiny-mlm-shapes" in (result.run_dir / "report.md").read_text()
    html = (result.run_dir / "report.html").read_text()
    assert "<h2 id=" in html and ">Examples</h2>" in html and "<mark>" in html  # changed words
    assert not result.results["warnings"]  # shapes data: the zoo MLM fits it
    spec = {**SPEC, "tasks": [{"dataset": {"name": "mmeval/toy", "params": {"n": 4}}}]}
    warnings = plan(spec).warnings
    assert any("the words are proposed by zoo/tiny-mlm-shapes, a masked LM trained only on the "
               "shapes world's captions" in w for w in warnings)
