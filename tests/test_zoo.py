"""The offline zoo: seed 0 of every model ships with the package, recorded with the recipe it was
built from; stale weights are refused; the models meet their quality bars (and, slow, a rebuild
from the code meets them too)."""

import json
import shutil

import pytest
import torch

from mmeval import ModelLoadError, evaluate, plan, zoo
from mmeval.cli import main
from mmeval.data.shapes import COLORS, SHAPES

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
    assert shapes10.value >= 0.90, shapes10
    assert shapes100.value >= 0.90, shapes100
    assert tr1.value >= 0.90 and ir1.value >= 0.40, (tr1, ir1)


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


def test_every_zoo_model_ships_built_by_todays_recipe(capsys):
    shipping = [name for name, entry in zoo.ENTRIES.items() if entry.ships]
    assert set(zoo.ENTRIES) - set(shipping) == {"tiny-imagetext-shapes"}
    for name in shipping:
        path = zoo.ensure(name)
        assert path == zoo.packaged_dir(name, 0), f"{name}: packaged weights are stale or missing"
        facts = zoo.check_recipe(path, name)
        assert facts["recipe"] == zoo.recipe(name)["hash"] and facts["seed"] == 0
    assert not zoo.packaged_dir("tiny-imagetext-shapes", 0).exists()
    assert main(["zoo", "list"]) == 0
    assert capsys.readouterr().out.count("packaged (seeds [0])") == len(shipping)


def test_a_loader_refuses_weights_of_another_recipe(tmp_path, monkeypatch):
    shipped = zoo.packaged_dir("tiny-mlm-shapes", 0)
    copy = tmp_path / "weights" / shipped.name
    shutil.copytree(shipped, copy)
    facts = json.loads((copy / zoo.MARKER).read_text())
    facts["sources"]["data/shapes.py"] = "0" * 64
    facts["recipe"] = "0123456789abcdef"
    (copy / zoo.MARKER).write_text(json.dumps(facts))
    with pytest.raises(ModelLoadError, match=r"changed: data/shapes\.py.*mmeval zoo build "
                       r"tiny-mlm-shapes --package"):
        zoo.check_recipe(copy, "tiny-mlm-shapes")
    with pytest.raises(ModelLoadError, match="tiny-clip-shapes"):  # another model's weights
        zoo.check_recipe(shipped, "tiny-clip-shapes")
    monkeypatch.setattr(zoo, "PACKAGED", tmp_path / "weights")
    with pytest.warns(RuntimeWarning, match="training it from the code instead"):
        assert zoo.packaged("tiny-mlm-shapes", 0) is None


def fake_build(out_dir, seed, progress):
    (out_dir / "weights.txt").write_text(f"seed {seed}")
    return {"fake": True}


def test_a_model_without_packaged_weights_is_trained_once_into_a_recipe_named_cache(
        tmp_path, monkeypatch):
    monkeypatch.setenv(zoo.CACHE_ENV, str(tmp_path / "cache"))
    entry = zoo.ENTRIES["tiny-mlm-shapes"]
    monkeypatch.setitem(zoo.ENTRIES, "tiny-mlm-shapes", type(entry)(
        entry.name, entry.description, f"{__name__}:fake_build", entry.loader, entry.sources))
    first = zoo.ensure("tiny-mlm-shapes", seed=7, progress=False)
    assert first.name == f"tiny-mlm-shapes-{zoo.recipe('tiny-mlm-shapes')['hash']}-seed7"
    (first / "weights.txt").write_text("kept")
    assert zoo.ensure("tiny-mlm-shapes", seed=7) == first  # cached: not trained again
    assert (first / "weights.txt").read_text() == "kept"
    [facts] = zoo.cached()
    assert facts["fake"] and facts["recipe"] == zoo.recipe("tiny-mlm-shapes")["hash"]
    # a changed recipe never reuses the old build
    monkeypatch.setattr(zoo, "recipe", lambda name: {"hash": "feedfeedfeedfeed", "sources": {}})
    assert zoo.ensure("tiny-mlm-shapes", seed=7, progress=False) != first


def test_a_zoo_models_recipe_is_part_of_its_cells_identity(monkeypatch):
    spec = {"name": "ids", "models": ["zoo/tiny-clip-shapes"],
            "tasks": [{"dataset": {"name": "shapes", "params": {"n": 10}}, "objective": "retrieval"}],
            "attacks": ["clean", "textattack/bert-attack-vlm"]}
    before = plan(spec).cells
    assert before[0].model.inputs == {"zoo": zoo.recipe("tiny-clip-shapes")["hash"]}
    assert before[1].attack.inputs == {"mlm": "zoo:" + zoo.recipe("tiny-mlm-shapes")["hash"]}
    real = zoo.recipe
    monkeypatch.setattr(zoo, "recipe", lambda name: {**real(name), "hash": "0" * 16}
                        if name == "tiny-mlm-shapes" else real(name))
    after = plan(spec).cells  # another MLM recipe: the text attack's cell is new, clean is not
    assert after[0].id == before[0].id and after[1].id != before[1].id


@pytest.mark.slow
def test_the_zoo_rebuilt_from_the_code_meets_the_bars(tmp_path):
    """``mmeval zoo build`` from scratch: the CLIP through the open_clip loader a user's
    checkpoint takes, held to the quickstart's bars; the MLM and classifier to theirs."""
    built = {name: zoo.build(name, 0, tmp_path / name, progress=False) for name in zoo.ENTRIES}
    model = {"name": "openclip/mmeval-tiny-clip",
             "params": {"pretrained": str(built["tiny-clip-shapes"] / "open_clip_model.safetensors")}}
    spec = {"name": "rebuilt", "models": [model], "tasks": SHAPES_TASKS, "attacks": ["clean"],
            "run": {"batch_size": 125, "progress": False}}
    result = evaluate(spec, out=tmp_path / "run")
    for task in ("shapes-10", "shapes-100"):
        assert result.metric("clean-accuracy", task=task, attack="clean").value >= 0.90
    assert result.metric("tr@1", task="retrieval", attack="clean").value >= 0.90
    assert json.loads((built["tiny-classifier-shapes"] / zoo.MARKER).read_text())[
        "accuracy_shapes_seed0"] >= 0.90
    assert json.loads((built["tiny-mlm-shapes"] / zoo.MARKER).read_text())["final_loss"] < 1.0
    heard = {"dataset": {"name": "sounds", "params": {"n": 500, "classes": "shape"}},
             "objective": {"name": "zero-shot", "params": {"template": "this is the sound of a {}"}}}
    for name, file in (("tiny-clap-shapes", "tiny_clap.safetensors"),
                       ("tiny-trimodal-shapes", "tiny_trimodal.safetensors")):
        audio = evaluate({"name": name, "tasks": [heard], "attacks": ["clean"],
                          "models": [{"name": f"zoo/{name}",
                                      "params": {"pretrained": str(built[name] / file)}}],
                          "run": {"batch_size": 125, "progress": False}}, out=tmp_path / name)
        assert audio.cells[0]["metrics"]["clean-accuracy"]["value"] >= 0.85, name
