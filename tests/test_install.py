"""The editable installs leave nothing in the checkout that git sees, and install.sh keeps the torch
it finds (pinning exactly that version) rather than installing its own."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                    reason="not a git checkout")
def test_installed_checkout_is_clean_for_git():
    assert list(ROOT.glob("*.egg-info")) or list(ROOT.glob("plugins/*/*.egg-info"))  # installed
    out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert not [line for line in out.splitlines() if ".egg-info" in line or "/build/" in line]


STUB = """#!/usr/bin/env bash
# a stand-in python: logs pip calls (with the content of each -c file), answers torch's version
if [ "$1" = "-m" ]; then
    echo "pip ${*:3}" >> "$LOG"
    prev=""
    for a in "$@"; do
        [ "$prev" = "-c" ] && echo "constraints: $(grep -v '^#' "$a" | tr '\\n' ' ')" >> "$LOG"
        prev=$a
    done
    [[ " $* " == *" torch==2.13.0 "* ]] && touch "$STATE"
    exit 0
fi
if [[ "$2" == *"torch.__version__"* && "$2" != *mmeval* ]]; then
    if [ -n "$HAVE" ]; then echo "$HAVE"; exit 0; fi
    if [ -e "$STATE" ]; then echo "2.13.0+cpu"; exit 0; fi
    exit 1
fi
echo "mmeval installed"
"""


@pytest.mark.parametrize(("have", "expected"), [("2.5.1+cu124", "torch==2.5.1+cu124"),
                                                (None, "torch==2.13.0+cpu")])
def test_install_sh_keeps_the_torch_it_finds(tmp_path, have, expected):
    stub = tmp_path / "python"
    stub.write_text(STUB)
    stub.chmod(0o755)
    log = tmp_path / "log"
    env = {"PATH": "/usr/bin:/bin", "PYTHON": str(stub), "LOG": str(log),
           "STATE": str(tmp_path / "installed"), "HAVE": have or ""}
    subprocess.run(["bash", str(ROOT / "install.sh")], env=env, check=True, capture_output=True)
    lines = log.read_text().splitlines()
    installs_torch = any(line.startswith("pip install --quiet torch==2.13.0") for line in lines)
    assert installs_torch == (have is None)
    editable = [i for i, line in enumerate(lines) if " -e " in line]
    assert len(editable) == 1 and f"constraints: {expected} " in lines
