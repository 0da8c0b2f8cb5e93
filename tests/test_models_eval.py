"""Quality regression: the committed detector on the dev set, the two hand-written test sets and
held-out shared rows.

Bars are set from the measured figures with a margin; they guard against regression, not
aspirations. The issue's targets are crisis recall >= 0.95 with <= 5% of everyday messages flagged
crisis, per language, and distress recall >= 0.85.

The hand-written sets (models/data/test_v2.jsonl, test_v3.jsonl; per language 60 crisis, 50
distress, 50 neutral, most neutral rows hard negatives) were written blind to the exemplar banks,
the lexicon and the dev set, and committed before the model was run on them.
- v2: since the recall round of 2026-11-28 a second development set (that round read its misses and
  wrote new lexicon rules and exemplar lines, none copied from it), so no longer a held-out measure.
- v3: held out, never used for any choice. Its distress recall (ko 0.76, en 0.94) is not guarded:
  Korean falls short of the 0.85 target on this set.
"""

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bot.commands.assess import build
from bot.commands.evaluate import evaluate_files
from models.banks import DEV_FILE, read_jsonl, shared_rows

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
MODEL_DATA = Path(__file__).resolve().parents[1] / "models" / "data"

DEV_BARS = {
    # measured 2026-11-28: recall ko 0.976, en 1.0; neutral->crisis ko 0.023 (1 of 43), en 0.05 (2 of
    # 40); distress recall 0.906 in both
    "ko": {"crisis_recall": 0.95, "neutral_flagged_crisis": 0.06, "distress_recall": 0.85},
    "en": {"crisis_recall": 0.95, "neutral_flagged_crisis": 0.08, "distress_recall": 0.85},
}
HAND_SET_BARS = {
    # measured with risk.npz sha256 494a848c: crisis recall 1.0 in both languages, no neutral row
    # flagged crisis (before the recall round: ko 0.950 / 0.04, en 0.917 / 0.06)
    "test_v2.jsonl": {
        "ko": {"crisis_recall": 0.95, "neutral_flagged_crisis": 0.05},
        "en": {"crisis_recall": 0.95, "neutral_flagged_crisis": 0.05},
    },
    # measured with risk.npz sha256 494a848c: crisis recall ko 1.0 (60/60), en 0.967 (58/60);
    # neutral flagged crisis ko 0.06 (3/50), en 0.02 (1/50). Bars set on the first measurement
    # (ko 0.983, en 0.967; same false alarms), at least 0.05 looser.
    "test_v3.jsonl": {
        "ko": {"crisis_recall": 0.93, "neutral_flagged_crisis": 0.11},
        "en": {"crisis_recall": 0.91, "neutral_flagged_crisis": 0.07},
    },
}
SHARED_FALSE_ALARM_BARS = {"ko": 0.03, "en": 0.015}  # measured 0.0203 and 0.0105 on the test split


@pytest.fixture(scope="module")
def assessor():
    a = build(None, None)
    yield a
    a.close()


def _assert_meets(report: dict[str, Any], bars: dict[str, dict[str, float]]) -> None:
    for lang, lang_bars in bars.items():
        m = report[lang]
        for metric, bar in lang_bars.items():
            if metric == "neutral_flagged_crisis":
                assert m[metric] <= bar, (lang, metric, m)
            else:
                assert m[metric] >= bar, (lang, metric, m)


def test_dev_set_quality_does_not_regress(assessor):
    _assert_meets(evaluate_files(assessor, [DEV_FILE])["by_lang"], DEV_BARS)


@pytest.mark.parametrize("name", sorted(HAND_SET_BARS))
def test_hand_written_set_is_intact(name: str):
    """The bars only mean something on the set they were measured on."""
    counts = Counter((e.lang, e.label) for e in read_jsonl(MODEL_DATA / name))
    for lang in ("ko", "en"):
        assert counts[(lang, "crisis")] == 60, counts
        assert counts[(lang, "distress")] == 50, counts
        assert counts[(lang, "none")] == 50, counts


@pytest.mark.parametrize("name", sorted(HAND_SET_BARS))
def test_hand_written_set_quality_does_not_regress(assessor, name: str):
    _assert_meets(evaluate_files(assessor, [MODEL_DATA / name])["by_lang"], HAND_SET_BARS[name])


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
