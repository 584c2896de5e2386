import json
import subprocess
import sys
from pathlib import Path

import pytest

from mmeval.cli import main
from mmeval.testing import toy_spec

ROOT = Path(__file__).resolve().parents[1]


def write_spec(path: Path, spec: dict) -> Path:
    path.write_text(json.dumps(spec))
    return path


@pytest.fixture()
def no_builds(monkeypatch):
    from mmeval.testing import toy

    monkeypatch.setattr(toy.ToyVLM, "__init__", lambda *a: pytest.fail("model built"))
    monkeypatch.setattr(toy.ToyDataset, "__init__", lambda *a: pytest.fail("dataset built"))


def test_misspelled_attack_exits_2_with_suggestion_as_a_real_process(tmp_path):
    spec = write_spec(tmp_path / "s.json", toy_spec(attacks=["mmeval/pgdd"]))
    proc = subprocess.run([sys.executable, "-m", "mmeval", "run", str(spec)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("UnknownComponentError: attacks[0].name: unknown attack")
    assert "did you mean 'mmeval/pgd'" in lines[0]
    assert not (tmp_path / "runs").exists()


def test_unknown_field_exits_2_naming_the_path(tmp_path, capsys, no_builds):
    spec = toy_spec()
    spec["run"]["batch"] = 4
    code = main(["run", str(write_spec(tmp_path / "s.json", spec))])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == "SpecError: run.batch: unknown field; remove it or check the spelling " \
                          "(docs/spec-reference.md lists every field)"


def test_debug_shows_traceback(tmp_path, capsys, no_builds):
    spec = write_spec(tmp_path / "s.json", toy_spec(attacks=["nope"]))
    assert main(["--debug", "validate", str(spec)]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_validate_lists_cells_without_computing(tmp_path, capsys, monkeypatch):
    from mmeval.testing import toy

    monkeypatch.setattr(toy.ToyVLM, "__init__", lambda *a: pytest.fail("model built"))
    assert main(["validate", str(write_spec(tmp_path / "s.json", toy_spec()))]) == 0
    out = capsys.readouterr().out
    assert "valid: 1 task(s), 2 cell(s)" in out and "mmeval/pgd(eps=0.01569, steps=5)" in out
    assert "  task mmeval/toy(n=40): mmeval/toy x zero-shot\n" in out
    assert "| clean  [clean]" in out and "[white-box, linf eps 4/255]" in out


def test_run_report_list_plugins(tmp_path, capsys):
    spec = write_spec(tmp_path / "s.json", toy_spec())
    assert main(["run", str(spec), "--out", str(tmp_path / "run"), "--limit", "10"]) == 0
    out = capsys.readouterr().out
    assert "| mmeval/toy-vlm | none | mmeval/toy(n=40) | clean | 10 |" in out
    (tmp_path / "run" / "report.md").unlink()
    assert main(["report", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "report.md").is_file()
    assert main(["list", "attacks"]) == 0
    assert "mmeval/pgd" in capsys.readouterr().out
    assert main(["plugins"]) == 0
    assert "mmeval" in capsys.readouterr().out


def test_report_on_a_directory_without_journal_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("StoreError: ")


def test_unwritable_output_dir_exits_2_before_compute(tmp_path, capsys, no_builds):
    blocker = tmp_path / "file"
    blocker.write_text("")
    spec = write_spec(tmp_path / "s.json", toy_spec())
    assert main(["run", str(spec), "--out", str(blocker / "run")]) == 2
    assert capsys.readouterr().err.startswith("StoreError: output directory")


def test_quickstart_example_runs(tmp_path, capsys):
    code = main(["run", str(ROOT / "examples" / "quickstart.py"), "--out", str(tmp_path / "q"),
                 "--limit", "30", "--no-progress"])
    assert code == 0
    results = json.loads((tmp_path / "q" / "results.json").read_text())
    assert [c["attack"] for c in results["cells"][:4]] == ["clean", "pgd 1/255", "pgd 2/255",
                                                           "pgd 4/255"]
    assert {c["task"] for c in results["cells"]} == {"shapes-10", "shapes-100", "shapes-retrieval"}
    assert {c["status"] for c in results["cells"]} == {"done"}
    assert all(c["n"] == 30 for c in results["cells"])
    assert "## retrieval" in capsys.readouterr().out
