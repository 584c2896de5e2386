"""The offline zoo: built once (cached under MMEVAL_CACHE_DIR), then held to its quality bars."""

import pytest
import torch

from mmeval import evaluate
from mmeval.cli import main
from mmeval.data.shapes import COLORS, SHAPES
from mmeval.zoo import cached, ensure

SHAPES_TASKS = [
    {"dataset": {"name": "shapes", "params": {"n": 500, "classes": "shape"}}, "label": "shapes-10"},
    {"dataset": {"name": "shapes", "params": {"n": 500, "classes": "shape-color"}},
     "label": "shapes-100"},
    {"dataset": {"name": "shapes", "params": {"n": 500}}, "objective": "retrieval",
     "label": "retrieval"},
]


@pytest.fixture(scope="module")
def clean_result(tmp_path_factory):
    spec = {"name": "zoo-quality", "models": ["zoo/tiny-clip-shapes"], "tasks": SHAPES_TASKS,
            "attacks": ["clean",
                        {"name": "mmeval/pgd", "params": {"eps": 0.0}, "label": "pgd-0"},
                        {"name": "mmeval/pgd", "params": {"eps": 4 / 255, "steps": 10},
                         "label": "pgd-4"}],
            "run": {"batch_size": 125, "progress": False}}
    return evaluate(spec, out=tmp_path_factory.mktemp("zoo") / "run")


def test_tiny_clip_quality_bars(clean_result):
    shapes10 = clean_result.metric("clean-accuracy", task="shapes-10", attack="clean")
    shapes100 = clean_result.metric("clean-accuracy", task="shapes-100", attack="clean")
    tr1 = clean_result.metric("tr@1", task="retrieval", attack="clean")
    ir1 = clean_result.metric("ir@1", task="retrieval", attack="clean")
    assert shapes10.n == shapes100.n == tr1.n == 500 and ir1.n == 2500
    assert shapes10.value >= 0.85, shapes10
    assert shapes100.value >= 0.50, shapes100
    assert tr1.value >= 0.40 and ir1.value >= 0.40, (tr1, ir1)


def test_pgd_at_4_lowers_accuracy_by_30_points_and_eps_0_changes_nothing(clean_result):
    for task in ("shapes-10", "shapes-100"):
        clean = clean_result.metric("robust-accuracy", task=task, attack="clean").value
        zero = clean_result.metric("robust-accuracy", task=task, attack="pgd-0").value
        pgd4 = clean_result.metric("robust-accuracy", task=task, attack="pgd-4").value
        assert zero == clean
        assert clean - pgd4 >= 0.30, (task, clean, pgd4)
    tr_clean = clean_result.metric("tr@1", task="retrieval", attack="clean").value
    assert clean_result.metric("tr@1", task="retrieval", attack="pgd-0").value == tr_clean
    assert clean_result.metric("tr@1", task="retrieval", attack="pgd-4").value < tr_clean - 0.3


def test_report_html_embeds_the_eps_curve(clean_result):
    page = (clean_result.run_dir / "report.html").read_text()
    assert "data:image/png;base64," in page and "<table>" in page


def test_tiny_mlm_predicts_colours_for_a_masked_colour():
    from mmeval.zoo.tiny_mlm import load

    model, tok = load()
    # framed like bert-base-uncased, so position-based candidate code sees the same layout
    assert tok.convert_ids_to_tokens(tok("a red star")["input_ids"]) == ["[CLS]", "a", "red", "star",
                                                                        "[SEP]"]
    sentences = ["a small [MASK] circle in the top left", "there is a large star colored [MASK] "
                 "in the center", "this is a photo of a [MASK] heart"]
    for sentence in sentences:
        enc = tok(sentence, return_tensors="pt")
        with torch.no_grad():
            logits = model(**enc).logits[0]
        pos = (enc["input_ids"][0] == tok.mask_token_id).nonzero().item()
        top = tok.convert_ids_to_tokens(logits[pos].topk(10).indices.tolist())
        colours = [t for t in top if t in COLORS]
        assert len(colours) >= 5, (sentence, top)
        assert not any(t in SHAPES for t in top[:3]), (sentence, top)


def test_zoo_build_is_cached_and_records_its_facts(capsys):
    first = ensure("tiny-clip-shapes")
    assert ensure("tiny-clip-shapes") == first  # cached: no rebuild
    ensure("tiny-mlm-shapes")
    facts = {c["name"]: c for c in cached() if c["seed"] == 0}
    assert all(facts[n]["build_seconds"] > 0 for n in ("tiny-clip-shapes", "tiny-mlm-shapes"))
    assert main(["zoo", "list"]) == 0
    out = capsys.readouterr().out
    assert "zoo/tiny-clip-shapes" in out and "built (seeds [0])" in out
