"""A run says what it is doing from the first second: a line per phase (datasets, each model, the
gates, preparing each task's prompts) before the progress bars; none with progress off."""

from mmeval import evaluate
from mmeval.testing import toy_spec


def test_every_phase_prints_one_line(tmp_path, capsys):
    evaluate(toy_spec(output_dir=str(tmp_path / "run"), run={"batch_size": 16, "progress": True}))
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("mmeval: ")]
    assert lines[0].startswith("mmeval: 2 cell(s) over 1 task(s) into ")
    assert "mmeval: loading model mmeval/toy-vlm (defense none)" in lines
    assert any(ln.startswith("mmeval: running ") and "sanity gate(s)" in ln for ln in lines)
    assert any(ln.startswith("mmeval: preparing zero-shot on task mmeval/toy(n=40)") for ln in lines)


def test_quiet_without_progress(tmp_path, capsys):
    evaluate(toy_spec(output_dir=str(tmp_path / "run")))
    assert "mmeval: " not in capsys.readouterr().err
