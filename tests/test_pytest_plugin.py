"""mmeval's pytest plugin, driven through pytest's own pytester."""

from __future__ import annotations

import json

import pytest

from mmeval import evaluate
from mmeval.testing import assert_metric, toy_spec

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _core_only(monkeypatch):
    """In-process inner sessions must not import plugin distributions: pytester drops modules the
    inner run imported, and a C extension cannot be imported twice in one process."""
    monkeypatch.setenv("MMEVAL_DISABLE_PLUGINS", "torchattacks,textattack,multimodal,defenses")

CHECKS = """
import pytest
from mmeval.testing import assert_metric, toy_spec

SEEN = []

@pytest.mark.robustness(model="toy", attack="pgd", eps=4 / 255)
def test_first(mmeval_evaluate):
    result = mmeval_evaluate(toy_spec())
    SEEN.append(result)
    assert all(c["n"] == 8 for c in result.cells)
    assert_metric(result, "clean-accuracy", ">=", 0.5, cell={"attack": "clean"})

def test_second_reuses_the_run(mmeval_evaluate):
    assert mmeval_evaluate(toy_spec()) is SEEN[0]
"""


def test_evaluate_fixture_caps_samples_caches_and_summarizes(pytester):
    pytester.makepyfile(CHECKS)
    out = pytester.runpytest("--mmeval-max-samples", "8", "--mmeval-device", "cpu")
    out.assert_outcomes(passed=2)
    out.stdout.fnmatch_lines(["*mmeval robustness results*", "*test_first*",
                              "*mmeval/pgd*(n=8): clean-accuracy*"])


def test_unknown_marker_keywords_are_refused(pytester):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.robustness(modle="toy")
        def test_typo():
            pass
    """)
    out = pytester.runpytest()
    assert out.ret == pytest.ExitCode.USAGE_ERROR
    out.stderr.fnmatch_lines(["*robustness takes keywords*modle*"])


def test_baselines_missing_written_compared(pytester):
    pytester.makepyfile("""
        from mmeval.testing import toy_spec

        def test_pgd(mmeval_evaluate, mmeval_baseline):
            mmeval_baseline(mmeval_evaluate(toy_spec()), ["robust-accuracy"], tolerance=0.01)
    """)
    missing = pytester.runpytest("--mmeval-max-samples", "8")
    missing.assert_outcomes(failed=1)
    missing.stdout.fnmatch_lines(["*no baseline at*--mmeval-update-baselines*"])
    pytester.runpytest("--mmeval-max-samples", "8", "--mmeval-update-baselines").assert_outcomes(
        passed=1)
    path = pytester.path / "baselines" / "test_pgd.json"
    stored = json.loads(path.read_text())
    assert len(stored) == 2 and all("robust-accuracy" in k for k in stored)
    assert {v["n"] for v in stored.values()} == {8}
    assert {v["higher_is_better"] for v in stored.values()} == {True}
    pytester.runpytest("--mmeval-max-samples", "8").assert_outcomes(passed=1)
    key = next(k for k in stored if "pgd" in k)

    def with_baseline(shift):
        path.write_text(json.dumps({**stored, key: {**stored[key],
                                                    "value": stored[key]["value"] + shift}}))

    with_baseline(+0.5)  # the run is now worse than the baseline
    moved = pytester.runpytest("--mmeval-max-samples", "8")
    moved.assert_outcomes(failed=1)
    moved.stdout.fnmatch_lines(["*1 metric(s) moved*", "*baseline*now*tolerance 0.01*"])
    with_baseline(-0.5)  # better than the baseline: passes unless two-sided
    pytester.runpytest("--mmeval-max-samples", "8").assert_outcomes(passed=1)
    with_baseline(0.0)
    other_n = pytester.runpytest("--mmeval-max-samples", "6", "-rs")
    other_n.assert_outcomes(skipped=1)
    other_n.stdout.fnmatch_lines(["*recorded at n=8, this run has n=6*does not apply*"])


def test_two_sided_baselines_fail_on_improvements_too(pytester):
    pytester.makepyfile("""
        import json
        from pathlib import Path
        from mmeval.testing import toy_spec

        def test_pgd(mmeval_evaluate, mmeval_baseline):
            result = mmeval_evaluate(toy_spec())
            path = Path(__file__).parent / "baselines" / "test_pgd.json"
            mmeval_baseline(result, ["robust-accuracy"], tolerance=0.01)  # writes it (update)
            stored = json.loads(path.read_text())
            path.write_text(json.dumps({k: {**v, "value": v["value"] - 0.5}
                                        for k, v in stored.items()}))
    """)
    pytester.runpytest("--mmeval-max-samples", "8", "--mmeval-update-baselines").assert_outcomes(
        passed=1)
    pytester.makepyfile(test_check="""
        from mmeval.testing import toy_spec

        def test_one(mmeval_evaluate, mmeval_baseline):
            mmeval_baseline(mmeval_evaluate(toy_spec()), ["robust-accuracy"], name="test_pgd",
                            tolerance=0.01)

        def test_two(mmeval_evaluate, mmeval_baseline):
            mmeval_baseline(mmeval_evaluate(toy_spec()), ["robust-accuracy"], name="test_pgd",
                            tolerance=0.01, two_sided=True)
    """)
    out = pytester.runpytest("test_check.py", "--mmeval-max-samples", "8")
    out.assert_outcomes(passed=1, failed=1)


def test_a_failing_assert_metric_shows_the_message_not_mmevals_source(pytester):
    pytester.makepyfile("""
        from mmeval.testing import assert_metric, toy_spec

        def test_strict(mmeval_evaluate):
            assert_metric(mmeval_evaluate(toy_spec()), "clean-accuracy", ">=", 1.01,
                          cell={"attack": "clean"})
    """)
    out = pytester.runpytest("--mmeval-max-samples", "8")
    out.assert_outcomes(failed=1)
    text = out.stdout.str()
    assert "clean-accuracy 95% lower bound" in text and "is not >= 1.01" in text
    assert "raise AssertionError" not in text and "def assert_metric" not in text


def test_assert_metric_uses_the_interval_bound_by_default():
    result = evaluate(toy_spec(tasks=[{"dataset": {"name": "mmeval/toy", "params": {"n": 8}}}]))
    clean = {"attack": "clean"}
    value = result.metric("clean-accuracy", **clean)
    assert value.value > 0.8 and value.low < 0.8
    assert_metric(result, "clean-accuracy", ">=", 0.8, cell=clean, use="value")
    with pytest.raises(AssertionError) as info:
        assert_metric(result, "clean-accuracy", ">=", 0.8, cell=clean)
    msg = str(info.value)
    assert "95% lower bound" in msg and "n=8" in msg and "attack=clean" in msg
    assert f"{value.value:.4f}" in msg and f"[{value.low:.4f}, {value.high:.4f}]" in msg
    assert_metric(result, "clean-accuracy", "<=", 1.0, cell=clean)
    with pytest.raises(AssertionError, match="0 cells match"):
        assert_metric(result, "clean-accuracy", ">=", 0.1, cell={"attack": "nope"})


def test_the_plugin_module_imports_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys, mmeval.pytest_plugin; "
            "heavy = [m for m in ('torch', 'open_clip', 'transformers') if m in sys.modules]; "
            "assert not heavy, heavy")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
