"""``mmeval.testing.Watched``: a subprocess fails a test only when it stops making progress (no
new output, no change under its watched paths), never because it is slow."""

from __future__ import annotations

import sys

import pytest

from mmeval.testing import Watched, run_watched

TICK = "import sys, time\nfor i in range({n}):\n    {act}\n    time.sleep({dt})\n"


def test_a_run_longer_than_idle_that_keeps_printing_completes():
    # 8 ticks of 0.25 s: twice the idle limit in all, a quarter of it between outputs
    code = TICK.format(n=8, act="print(i, flush=True)", dt=0.25)
    proc = run_watched([sys.executable, "-c", code], idle=1.0)
    assert proc.returncode == 0 and proc.stdout.split() == [str(i) for i in range(8)]


def test_progress_in_a_watched_file_counts_without_any_output(tmp_path):
    out = tmp_path / "journal"
    out.mkdir()
    code = TICK.format(n=8, act=f"open({str(out / 'log')!r}, 'a').write('x')", dt=0.25)
    proc = run_watched([sys.executable, "-c", code], idle=1.0, watch=[out])
    assert proc.returncode == 0 and (out / "log").read_text() == "x" * 8


def test_a_silent_process_is_killed_with_its_output():
    code = "import sys, time\nsys.stderr.write('stuck here')\nsys.stderr.flush()\ntime.sleep(60)"
    watched = Watched([sys.executable, "-c", code], idle=1.0)
    with pytest.raises(AssertionError, match=r"no progress for 1 s(.|\n)*stuck here"):
        watched.wait()
    assert watched.proc.returncode is not None  # killed and reaped, not left running
