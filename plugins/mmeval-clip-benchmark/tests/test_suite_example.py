"""examples/zero_shot_suite.py on fabricated roots: ``validate`` lists one task per dataset of
the TeCoA/MMCoA suite, or exits 2 naming a missing dataset and its layout before any model is
built; run (with the zoo's tiny CLIP in place of ViT-B/32) it writes the suite table, average
column included, into report.md and report.html."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import huggingface_hub.constants
import pytest
from mmeval_clip_benchmark.catalog import TECOA
from mmeval_clip_benchmark.fabricate import fabricate_suite

import mmeval
from mmeval import SpecError, average, evaluate, load_spec, plan

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "zero_shot_suite.py"


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("clip_benchmark")
    fabricate_suite(root, TECOA)
    return root


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A Hugging Face cache holding (a stand-in for) the example's open_clip weights, which
    validate looks for without reading them."""
    hub = tmp_path_factory.mktemp("hub")
    repo = hub / "models--timm--vit_base_patch32_clip_224.openai"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    (repo / "snapshots" / ("0" * 40)).mkdir(parents=True)
    (repo / "snapshots" / ("0" * 40) / "open_clip_model.safetensors").write_bytes(b"")
    return hub


def _validate(root: Path, hub: Path) -> subprocess.CompletedProcess:
    """``mmeval validate`` on the example's spec for ``root``, with checksums relaxed (fabricated
    files cannot match the published sums)."""
    spec = _spec(root)
    spec["tasks"][0]["suite"]["params"]["verify_checksums"] = False
    path = root.parent / f"{root.name}-spec.json"
    path.write_text(json.dumps(spec))
    return subprocess.run([sys.executable, "-m", "mmeval", "validate", str(path)],
                          capture_output=True, text=True, env={**os.environ, "HF_HUB_CACHE": str(hub)})


def _spec(root: Path) -> dict:
    os.environ["MMEVAL_DATA_ROOT"] = str(root)
    try:
        return load_spec(EXAMPLE).canonical()
    finally:
        del os.environ["MMEVAL_DATA_ROOT"]


def _pct(v) -> str:
    small = " †" if v.n < 10 else ""  # the report marks intervals from fewer than 10 samples
    return f"{100 * v.value:.1f} [{100 * v.low:.1f}, {100 * v.high:.1f}]{small}"


def test_validate_lists_one_task_per_dataset(data_root, hub):
    proc = _validate(data_root, hub)
    assert proc.returncode == 0, proc.stderr
    assert "16 task(s), 32 cell(s)" in proc.stdout
    for name in TECOA:
        assert (f"  task {name}: clip-benchmark/{name} x zero-shot  (suite clip-benchmark/tecoa)"
                in proc.stdout)


def test_validate_names_a_missing_dataset_and_its_layout(data_root, hub, tmp_path, monkeypatch):
    root = tmp_path / "data"
    shutil.copytree(data_root, root, ignore=shutil.ignore_patterns("dtd"))
    proc = _validate(root, hub)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("SpecError: tasks[0].suite: 1 of the 16 datasets of suite "
                                  "'clip-benchmark/tecoa' cannot be used")
    assert (f"tasks[0].suite[dtd].params: clip-benchmark/dtd: root '{root / 'dtd'}' does not "
            "exist") in proc.stderr
    assert "root/dtd/dtd/images/<class>/<image>.jpg and root/dtd/dtd/labels/" in proc.stderr
    # planning refuses it before any model is built
    model = mmeval.get_host().registry.get("model", "openclip/ViT-B-32").load()
    monkeypatch.setattr(model, "__init__", lambda *a, **k: pytest.fail("model built"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    with pytest.raises(SpecError, match=r"suite\[dtd\]"):
        plan(_spec(root))


def test_run_writes_the_suite_table_with_its_average(data_root, tmp_path):
    data = _spec(data_root)
    data["models"] = [{"name": "zoo/tiny-clip-shapes", "label": "tiny CLIP"}]
    data["tasks"][0]["suite"]["params"].update(image_size=48, verify_checksums=False)
    data["attacks"][1]["params"]["steps"] = 5
    data["run"].update(batch_size=8, progress=False)
    data["output_dir"] = str(tmp_path / "run")
    result = evaluate(plan(data, limit=3))
    report = (tmp_path / "run" / "report.md").read_text()
    header = "| model | defense | attack | " + " | ".join(TECOA) + " | average |"
    assert report.count(header) == 1  # robust accuracy (the only suite metric of the spec)
    for attack in ("clean", "pgd-100 1/255"):
        cells = [c for c in result.cells if c["attack"] == attack]
        assert [c["task"] for c in cells] == list(TECOA)
        assert {c["suite"] for c in cells} == {"clip-benchmark/tecoa"}
        values = [result.metric("robust-accuracy", task=c["task"], attack=attack) for c in cells]
        row = f"| tiny CLIP | none | {attack} | " + " | ".join(_pct(v) for v in values)
        assert f"{row} | {_pct(average(values))} |" in report
    html = (tmp_path / "run" / "report.html").read_text()
    assert "clip-benchmark/tecoa · robust-accuracy" in html and "<th>average</th>" in html
