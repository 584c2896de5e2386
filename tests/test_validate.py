"""``mmeval validate`` fails (exit 2, one line naming the field, no journal) on what would
otherwise fail every cell: a checkpoint of another architecture, an open_clip tag whose weights
are not cached, a missing Hugging Face directory, one saved without its tokenizer. (Dataset roots,
first samples and objective vs dataset kind: tests/test_bad_inputs.py runs its whole campaign
through validate.)"""

import json
import shutil

import torch
from test_models import TINY_ARCH, _tiny_hf_dir

from mmeval.cli import main
from mmeval.models.open_clip import OpenCLIPModel, OpenCLIPParams
from mmeval.testing import toy_spec


def _validate(tmp_path, capsys, models) -> tuple[int, str]:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(toy_spec(models=models, output_dir=str(tmp_path / "run"))))
    code = main(["validate", str(spec)])
    err = capsys.readouterr().err.strip()
    assert not (tmp_path / "run").exists()
    assert len(err.splitlines()) <= 1 and "Traceback" not in err
    return code, err


def test_a_checkpoint_of_another_architecture(tmp_path, capsys):
    ckpt = OpenCLIPModel(OpenCLIPParams(), variant=TINY_ARCH).save_checkpoint(tmp_path / "w")
    path = ckpt["params"]["pretrained"]
    assert _validate(tmp_path, capsys, [ckpt])[0] == 0
    code, err = _validate(tmp_path, capsys, [{"name": "openclip/RN50",
                                              "params": {"pretrained": path}}])
    assert code == 2 and err.startswith(f"SpecError: models[0].params: checkpoint '{path}' does "
                                        "not fit openclip/RN50: ")
    assert "in the file" in err and "pass the architecture it was saved from" in err


def test_an_open_clip_tag_whose_weights_are_not_cached(tmp_path, capsys):
    models = [{"name": "openclip/ViT-B-32", "params": {"pretrained": "openai",
                                                         "cache_dir": str(tmp_path / "hub")}}]
    code, err = _validate(tmp_path, capsys, models)
    assert code == 2 and err.startswith("SpecError: models[0].params: the weights of "
                                        "openclip/ViT-B-32 'openai' are not in the local cache")
    # the same weights in the Hugging Face cache layout there pass
    snap = tmp_path / "hub" / "models--timm--vit_base_patch32_clip_224.openai"
    (snap / "refs").mkdir(parents=True)
    (snap / "refs" / "main").write_text("abc")
    (snap / "snapshots" / "abc").mkdir(parents=True)
    (snap / "snapshots" / "abc" / "open_clip_model.safetensors").write_bytes(b"")
    assert _validate(tmp_path, capsys, models)[0] == 0
    code, err = _validate(tmp_path, capsys, [{"name": "openclip/ViT-B-32",
                                              "params": {"pretrained": "opanai"}}])
    assert code == 2 and "open_clip has no weights 'opanai' for ViT-B-32 (its tags: openai" in err


def test_a_missing_hugging_face_directory(tmp_path, capsys):
    code, err = _validate(tmp_path, capsys, [{"name": "hf/clip",
                                              "params": {"model": str(tmp_path / "nothing")}}])
    assert code == 2 and err.startswith("SpecError: models[0].params: '")
    assert "is not a directory; pass one written by save_pretrained" in err


def test_a_hugging_face_directory_without_its_tokenizer(tmp_path, capsys):
    path = _tiny_hf_dir(tmp_path, "clip")
    assert _validate(tmp_path, capsys, [{"name": "hf/clip", "params": {"model": str(path)}}])[0] == 0
    bare = tmp_path / "bare"
    shutil.copytree(path, bare, ignore=shutil.ignore_patterns("tokenizer*", "special_tokens*"))
    code, err = _validate(tmp_path, capsys, [{"name": "hf/clip", "params": {"model": str(bare)}}])
    assert code == 2 and err.startswith(f"SpecError: models[0].params: '{bare}' has no tokenizer "
                                        "files (tokenizer.json, ")
    tok = {"model": str(bare), "tokenizer": str(path)}  # the tokenizer from elsewhere: fine
    assert _validate(tmp_path, capsys, [{"name": "hf/clip", "params": tok}])[0] == 0


def test_deep_builds_the_models_and_catches_what_only_loading_shows(tmp_path, capsys):
    """A torch checkpoint's shapes are known only once loaded: --deep builds the model."""
    model = OpenCLIPModel(OpenCLIPParams(), variant=TINY_ARCH)
    torch.save({"visual.conv1.weight": torch.zeros(3)}, tmp_path / "w.pt")
    spec = tmp_path / "spec.json"
    bad = {"name": f"openclip/{TINY_ARCH}", "params": {"pretrained": str(tmp_path / "w.pt")}}
    spec.write_text(json.dumps(toy_spec(models=[bad], output_dir=str(tmp_path / "run"))))
    assert main(["validate", str(spec)]) == 0
    capsys.readouterr()
    assert main(["validate", "--deep", str(spec)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ModelLoadError: models[0]: cannot load openclip/mmeval-tiny-clip") and len(
        err.splitlines()) == 1
    good = model.save_checkpoint(tmp_path / "ok")
    spec.write_text(json.dumps(toy_spec(models=[good], output_dir=str(tmp_path / "run"))))
    assert main(["validate", "--deep", str(spec)]) == 0
    assert not (tmp_path / "run").exists()
