"""Renders a run's report.html in a real headless browser (Debian's chromium) and saves a
screenshot: a check that the page lays out, and the picture docs/quickstart.md shows.

    python benchmarks/report_screenshot.py                  # quickstart, 60 samples per task
    python benchmarks/report_screenshot.py --run-dir RUN    # an existing run
    python benchmarks/report_screenshot.py --out docs/report.png

Needs ``chromium`` (``apt-get install chromium``) or ``--browser PATH``."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", type=Path, help="a finished run (default: run the quickstart)")
    ap.add_argument("--limit", type=int, default=60, help="samples per task of the quickstart")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "report.png")
    ap.add_argument("--browser", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    ap.add_argument("--size", default="1280,2400", help="window width,height in pixels")
    args = ap.parse_args(argv)
    if not args.browser:
        print("no chromium found: apt-get install chromium, or pass --browser", file=sys.stderr)
        return 2
    run_dir = args.run_dir
    if run_dir is None:
        from mmeval import evaluate, load_spec

        run_dir = Path(tempfile.mkdtemp()) / "quickstart"
        evaluate(load_spec(ROOT / "examples" / "quickstart.py"), out=run_dir, limit=args.limit)
    page = (run_dir / "report.html").resolve()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [args.browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--window-size={args.size}", f"--screenshot={args.out.resolve()}", page.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 or not args.out.is_file():
        print(proc.stderr[-2000:], file=sys.stderr)
        return 1
    print(f"{page} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
