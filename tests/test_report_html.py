"""report.html is navigable and has something to look at: a table of contents whose links all
land, the spec's labels in the curve legends, intervals from few samples marked, rendered metric
definitions, and examples of every cell (clean and adversarial image, the perturbation, the
predictions), kept under the run directory in a bounded number."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from mmeval import Store, evaluate, get_host
from mmeval.planning import resolve_metrics
from mmeval.reporters.plots import curve_series
from mmeval.results import build_results
from mmeval.spec import validate_spec
from mmeval.testing import toy_spec

ROOT = Path(__file__).resolve().parents[1]


def _run(tmp_path, **run):
    spec = toy_spec(attacks=["clean"] + [{"name": "mmeval/pgd", "params": {"eps": k / 255,
                                                                            "steps": 3},
                                          "label": f"my pgd {k}"} for k in (2, 4)],
                    tasks=[{"dataset": {"name": "mmeval/toy", "params": {"n": 8}}}],
                    output_dir=str(tmp_path / "run"))
    spec["run"].update(run)
    return evaluate(spec)


def test_the_page_is_navigable_and_shows_examples(tmp_path):
    result = _run(tmp_path)
    html = (result.run_dir / "report.html").read_text()
    links = re.findall(r'href="#([^"]+)"', html)
    assert len(links) >= 5 and all(f'id="{a}"' in html for a in links)
    assert ">Examples</h2>" in html and html.count("data:image/png;base64,") >= 1 + 3 * 3
    assert "**" not in html and "<strong>" in html
    assert "†" in html  # n = 8 < 10: every interval is marked
    for cell in result.cells:
        folder = result.run_dir / "examples" / cell["id"]
        assert len(list(folder.glob("*.json"))) == 3
        clean, adv = Image.open(folder / "0-clean.png"), Image.open(folder / "0-adv.png")
        assert clean.size == adv.size == (16, 16)
    pgd = next(c for c in result.cells if c["attack"] == "my pgd 4")
    assert "perturbation ×" in html and "label " in html and f"{pgd['label']}</h3>" in html


def test_legends_use_the_spec_labels(tmp_path):
    result = _run(tmp_path, examples=0)
    with Store(result.run_dir, create=False) as store:
        metrics = resolve_metrics(validate_spec(store.meta()["spec"]), get_host())
        typed = build_results(store, metrics)
    labels = [label for _, label in curve_series(typed)]
    assert labels and all("my pgd 2 … my pgd 4" in label for label in labels)
    assert not (result.run_dir / "examples").exists()


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")
def test_a_headless_browser_renders_the_page(tmp_path):
    """benchmarks/report_screenshot.py in a real browser: the page lays out into a picture that is
    not blank (the script's own check that the HTML renders)."""
    result = _run(tmp_path)
    out = tmp_path / "page.png"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "report_screenshot.py"),
                           "--run-dir", str(result.run_dir), "--out", str(out),
                           "--size", "900,1200"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    shot = Image.open(out).convert("L")
    assert shot.size == (900, 1200) and shot.getextrema()[0] < 100  # text and images drawn
