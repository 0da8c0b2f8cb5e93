"""Quality regression: the committed detector on the dev set and on held-out shared rows.

Bars are set from the measured figures (see models/artifacts/risk.json) with a small margin; the
issue's targets are crisis recall >= 0.95 with <= 5% of everyday messages flagged crisis, per
language, and distress recall >= 0.85.
"""

from pathlib import Path

import pytest

from bot.commands.assess import build
from bot.commands.evaluate import evaluate_files
from models.banks import DEV_FILE, shared_rows

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"

DEV_BARS = {
    # measured 2026-11-28: recall ko 0.976, en 1.0; neutral->crisis ko 0.023 (1 of 43), en 0.05 (2 of
    # 40); distress recall 0.906 in both
    "ko": {"crisis_recall": 0.95, "neutral_flagged_crisis": 0.06, "distress_recall": 0.85},
    "en": {"crisis_recall": 0.95, "neutral_flagged_crisis": 0.08, "distress_recall": 0.85},
}
SHARED_FALSE_ALARM_BARS = {"ko": 0.03, "en": 0.015}  # measured 0.0203 and 0.0105 on the test split


@pytest.fixture(scope="module")
def assessor():
    a = build(None, None)
    yield a
    a.close()


def test_dev_set_quality_does_not_regress(assessor):
    report = evaluate_files(assessor, [DEV_FILE])["by_lang"]
    for lang, bars in DEV_BARS.items():
        m = report[lang]
        assert m["crisis_recall"] >= bars["crisis_recall"], (lang, m)
        assert m["neutral_flagged_crisis"] <= bars["neutral_flagged_crisis"], (lang, m)
        assert m["distress_recall"] >= bars["distress_recall"], (lang, m)


def test_false_alarms_on_held_out_shared_rows(assessor, tmp_path):
    if not SHARED.is_dir():
        pytest.skip("shared datasets are not beside this checkout")
    rows = shared_rows(SHARED, "test")
    results = assessor.assess_many([e.text for e in rows])
    for lang, bar in SHARED_FALSE_ALARM_BARS.items():
        neutral = [a for e, a in zip(rows, results, strict=True) if e.lang == lang and e.label == "none"]
        share = sum(a.level.value == "crisis" for a in neutral) / len(neutral)
        assert share <= bar, (lang, share)
    crisis = [a for e, a in zip(rows, results, strict=True) if e.label == "crisis"]
    assert all(a.level.value == "crisis" for a in crisis)
