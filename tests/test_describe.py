"""Components can be looked up from the command line: ``mmeval describe NAME`` prints the
description, origin plugin and version, every param with type, default and constraint, and a spec
entry; ``mmeval list --params``; params errors point to ``mmeval describe``."""

import json

import pytest

from mmeval import SpecError, get_host, plan
from mmeval.cli import main
from mmeval.testing import toy_spec


@pytest.mark.parametrize("name", ["torchattacks/pgd", "multimodal/co-attack"])
def test_describe_prints_every_param_with_its_default(name, capsys):
    assert main(["describe", name]) == 0
    out = capsys.readouterr().out
    comp = get_host().registry.get("attack", name)
    assert out.startswith(f"attack {name}\n")
    assert f"from plugin {comp.origin} (mmeval-" in out
    for field, info in comp.params_model().model_fields.items():
        default = info.get_default(call_default_factory=True)
        if hasattr(default, "model_dump"):
            default = default.model_dump(mode="json")
        assert f"  {field}: " in out and f" = {json.dumps(default)}" in out, field
    entry = json.loads(out.rsplit("in a spec:\n", 1)[1])
    assert entry["name"] == name
    plan(toy_spec(attacks=[entry]))  # the printed entry is a valid spec entry


def test_describe_shows_constraints_and_required_params(capsys):
    assert main(["describe", "image-folder"]) == 0
    out = capsys.readouterr().out
    assert "  root: str = required" in out and "  image_size: int = 224, >= 8" in out
    assert '{"name": "image-folder", "params": {"root": "<str>", "image_size": 224}}' in out


def test_unknown_name_suggests_and_list_shows_params(capsys):
    assert main(["describe", "torchattacks/pgdd"]) == 2
    assert "did you mean 'torchattacks/pgd'" in capsys.readouterr().err
    assert main(["list", "attacks", "--params"]) == 0
    out = capsys.readouterr().out
    assert "      params: modality: 'image' | 'audio' = \"image\", snr_db: float | None = null, " \
        "eps: float = " in out and "      params: none" in out


def test_params_errors_point_to_describe():
    spec = toy_spec(attacks=[{"name": "mmeval/pgd", "params": {"epsilon": 0.1}}])
    with pytest.raises(SpecError, match=r"unknown field; .*`mmeval describe mmeval/pgd` lists"):
        plan(spec)
    spec = toy_spec(attacks=[{"name": "mmeval/pgd", "params": {"eps": -1}}])
    with pytest.raises(SpecError, match=r"eps: .*; `mmeval describe mmeval/pgd` lists its params"):
        plan(spec)
