"""examples/test_robustness_example.py runs as a user's CI would: the defended check passes, the
undefended one is an expected failure, and the session summary lists both results."""

from __future__ import annotations

import sys
from pathlib import Path

from mmeval.testing import run_watched

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "test_robustness_example.py"


def test_the_example_checks_pass_and_fail_as_stated(tmp_path):
    basetemp = tmp_path / "runs"  # where the checks' runs journal: their progress
    proc = run_watched(
        [sys.executable, "-m", "pytest", str(EXAMPLE), "-q", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), "--basetemp", str(basetemp), "--mmeval-device", "cpu"],
        watch=[basetemp], cwd=tmp_path)
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-2000:]
    assert "1 passed, 1 xfailed" in out
    assert "mmeval robustness results" in out and "TeCoA" in out
