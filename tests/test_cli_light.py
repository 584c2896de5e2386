"""The CLI answers without the model libraries: ``mmeval --help``, ``list``, ``plugins``,
``describe``, ``zoo list`` and ``validate`` (every plugin installed) read the registry and the
components' declarations only, so
none of torch, open_clip, transformers, torchattacks, textattack is imported. Checked in a fresh
subprocess, which prints what it has in ``sys.modules`` afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "open_clip", "transformers", "torchattacks", "textattack")
CHILD = f"""
import json, sys
from mmeval.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:  # --help
    code = exc.code
print("HEAVY=" + json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
sys.exit(code)
"""


def _run(*argv: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    proc = subprocess.run([sys.executable, "-c", CHILD, *argv], capture_output=True, text=True,
                          cwd=ROOT)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("HEAVY="))
    return proc, json.loads(line.removeprefix("HEAVY="))


@pytest.mark.parametrize("argv", [("--help",), ("list",), ("list", "attacks"), ("plugins",),
                                  ("list", "--params"), ("describe", "multimodal/sga"),
                                  ("zoo", "list"), ("validate", "examples/quickstart.py")],
                         ids=lambda a: " ".join(a))
def test_the_cli_imports_no_model_library(argv):
    proc, heavy = _run(*argv)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert heavy == [], f"`mmeval {' '.join(argv)}` imported {heavy}"


def test_listing_shows_every_plugin_and_validate_every_cell():
    listed, _ = _run("list", "attacks")
    for name in ("mmeval/pgd", "torchattacks/apgd", "textattack/bert-attack-vlm",
                 "multimodal/sga", "multi-shield/adaptive-pgd"):
        assert name in listed.stdout
    valid, _ = _run("validate", "examples/quickstart.py")
    assert "3 task(s), 12 cell(s)" in valid.stdout and valid.stdout.count("[white-box") == 9


def test_building_a_component_still_imports_what_it_needs():
    proc = subprocess.run([sys.executable, "-c", "import sys, mmeval\n"
                           "mmeval.create('attack', 'torchattacks/fgsm')\n"
                           "print('torchattacks' in sys.modules, 'torch' in sys.modules)"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.stdout.split() == ["True", "True"], proc.stderr[-2000:]


def test_validating_every_plugins_components_imports_no_model_library(tmp_path):
    spec = {"name": "every-plugin",
            "models": [{"name": "zoo/tiny-clip-shapes",
                        "defenses": [{"name": "defenses/multi-shield"}]}],
            "tasks": [{"dataset": {"name": "shapes", "params": {"n": 20}}},
                      {"dataset": {"name": "shapes", "params": {"n": 20}}, "objective": "retrieval"}],
            "attacks": ["clean", "torchattacks/apgd", "textattack/bert-attack-vlm",
                        "multimodal/co-attack", "multimodal/sga", "multimodal/sep-attack",
                        {"name": "multimodal/sga", "params": {"compat": "reference"}}],
            "metrics": ["robust-accuracy", "tr@1", "rejection-rate", "words-perturbed"]}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    proc, heavy = _run("validate", str(path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 task(s), 28 cell(s)" in proc.stdout
    assert heavy == [], heavy
