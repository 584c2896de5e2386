"""A newcomer's first minutes, measured: the quickstart on an empty cache, ``mmeval validate``,
``mmeval list attacks``, ``mmeval plugins`` and ``python -c "import torch"`` (the floor any
command that touches a model pays), each in a fresh process, from the checkout this runs in.

The quickstart runs once (its first run is the cold one: empty ``MMEVAL_CACHE_DIR``, new run
directory); the short commands run ``--repeat`` times, interleaved, and report their median.
Run it on a fresh clone after ``./install.sh`` for the figures in docs/benchmarks.md:

    python benchmarks/cold_start.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MMEVAL = [sys.executable, "-m", "mmeval"]


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {**os.environ, "MMEVAL_CACHE_DIR": str(work / "cache")}
        spec = str(ROOT / "examples" / "quickstart.py")
        quick = {
            "mmeval validate examples/quickstart.py": [*MMEVAL, "validate", spec],
            "mmeval list attacks": [*MMEVAL, "list", "attacks"],
            "mmeval plugins": [*MMEVAL, "plugins"],
            "python -c 'import torch' (floor)": [sys.executable, "-c", "import torch"],
        }
        times: dict[str, list[float]] = {k: [] for k in quick}
        for _ in range(args.repeat):
            for label, cmd in quick.items():
                times[label].append(timed(cmd, env, work))
        run = [*MMEVAL, "run", spec, "--out", str(work / "quickstart"), "--no-progress"]
        cold = timed(run, env, work)
        warm = timed(run, env, work)
    floor = statistics.median(times["python -c 'import torch' (floor)"])
    print(f"{'command':<44} {'wall s':>8} {'x floor':>8}")
    for label, ts in times.items():
        med = statistics.median(ts)
        print(f"{label:<44} {med:8.2f} {med / floor:8.2f}   (median of {len(ts)})")
    print(f"{'mmeval run examples/quickstart.py (cold)':<44} {cold:8.1f} {cold / floor:8.1f}")
    print(f"{'... again (resumes, nothing recomputed)':<44} {warm:8.1f} {warm / floor:8.1f}")
    print(f"cpu threads: {os.cpu_count()}, python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
