import math

import pytest

from mmeval import SampleRecord, wilson
from mmeval.metrics import (
    AccuracyDrop,
    AttackSuccessRate,
    CleanAccuracy,
    FoolingRate,
    RobustAccuracy,
    WorstCaseRobustAccuracy,
)


def rec(cell, sid, clean, adv):
    return SampleRecord(cell, sid, 0, 0, 0, clean, adv)


def test_wilson_matches_known_values():
    m = wilson(8, 10)
    assert m.value == 0.8
    assert m.low == pytest.approx(0.4902, abs=1e-4)
    assert m.high == pytest.approx(0.9433, abs=1e-4)
    assert wilson(0, 20).low == 0.0 and wilson(20, 20).high == 1.0
    empty = wilson(0, 0)
    assert math.isnan(empty.value) and empty.n == 0


def test_cell_metrics():
    records = [rec("c", "a", True, True), rec("c", "b", True, False), rec("c", "d", False, False),
               rec("c", "e", True, False)]
    assert CleanAccuracy().compute(records).value == 0.75
    assert RobustAccuracy().compute(records).value == 0.25
    asr = AttackSuccessRate().compute(records)
    assert asr.value == pytest.approx(2 / 3) and asr.n == 3


def test_worst_case_is_pointwise_over_attacks_and_skips_incomplete_samples():
    records = [
        rec("pgd", "a", True, True), rec("fgsm", "a", True, True),
        rec("pgd", "b", True, True), rec("fgsm", "b", True, False),
        rec("pgd", "c", True, False), rec("fgsm", "c", True, True),
        rec("pgd", "d", True, True),  # missing from fgsm: left out
    ]
    m = WorstCaseRobustAccuracy().compute(records)
    assert (m.value, m.n) == (pytest.approx(1 / 3), 3)
    # worst case never exceeds any single attack's robust accuracy on the same samples
    same = [r for r in records if r.sample_id != "d"]
    for cell in ("pgd", "fgsm"):
        assert m.value <= RobustAccuracy().compute([r for r in same if r.cell_id == cell]).value


def test_accuracy_drop_and_fooling_rate():
    records = [rec("c", "a", True, True), rec("c", "b", True, False), rec("c", "d", False, False),
               rec("c", "e", True, False)]
    drop = AccuracyDrop().compute(records)
    assert drop.value == pytest.approx(0.5) and drop.low <= 0.5 <= drop.high and drop.n == 4
    preds = [SampleRecord("c", str(i), 0, 1, p, True, p == 1) for i, p in enumerate([1, 2, 3, 1])]
    fooled = FoolingRate().compute(preds)
    assert fooled.value == 0.5 and fooled.n == 4  # changed predictions, wherever they go
    assert math.isnan(AccuracyDrop().compute([]).value)
