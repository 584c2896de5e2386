"""A real third-party distribution (examples/mmeval-example-plugin) installed into the test
environment: listed with its version, usable by name in a spec, gone after uninstalling."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "mmeval-example-plugin"


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
                   check=True, capture_output=True, text=True)


def mmeval_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmeval", *args], capture_output=True, text=True)


def test_install_list_use_uninstall(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({
        "models": ["mmeval/toy-vlm"], "tasks": [{"dataset": {"name": "toy", "params": {"n": 16}}}],
        "attacks": [{"name": "example/random-sign", "params": {"eps": 8 / 255}}],
        "run": {"progress": False}, "output_dir": str(tmp_path / "run")}))
    assert "mmeval-example-plugin" not in mmeval_cli("plugins").stdout
    # build offline with the environment's setuptools when it has one
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    pip("install", "--no-deps", *isolation, str(EXAMPLE))
    try:
        listed = mmeval_cli("plugins").stdout
        assert any("example" in line and "mmeval-example-plugin 0.2.0" in line
                   for line in listed.splitlines()), listed
        run = mmeval_cli("run", str(spec), "--no-progress")
        assert run.returncode == 0, run.stderr
        cell = json.loads((tmp_path / "run" / "results.json").read_text())["cells"][0]
        assert cell["status"] == "done" and cell["n"] == 16
    finally:
        pip("uninstall", "-y", "mmeval-example-plugin")
    assert "mmeval-example-plugin" not in mmeval_cli("plugins").stdout
    gone = mmeval_cli("validate", str(spec))
    assert gone.returncode == 2 and "example/random-sign" in gone.stderr
