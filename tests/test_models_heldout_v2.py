"""Quality regression on the v2 set (models/data/test_v2.jsonl).

The 320 rows (per language 60 crisis, 50 distress, 50 neutral, most neutral rows hard negatives) were
written blind to the exemplar banks, the dev set and the first hand test, before the model was run on
them. Since the recall round of 2026-11-28 they are a second development set: that round read its
misses and wrote new lexicon rules and new exemplar lines (none copied from it) for the same kinds of
message, so its figures are no longer a held-out measure (test_v3.jsonl is). The bars guard against
regression: each is 0.05 looser than the figure measured with artifact risk.json sha256 494a848c...
(crisis recall 1.0 in both languages, no neutral row flagged crisis).
"""

from collections import Counter
from pathlib import Path

import pytest

from bot.commands.assess import build
from bot.commands.evaluate import evaluate_files
from models.banks import read_jsonl

HELDOUT_V2 = Path(__file__).resolve().parents[1] / "models" / "data" / "test_v2.jsonl"

HELDOUT_V2_BARS = {
    # measured: crisis recall ko 1.000 (60/60), en 1.000 (60/60); neutral flagged crisis 0/50 in both
    # (before the recall round: ko 0.950 / 0.04, en 0.917 / 0.06)
    "ko": {"crisis_recall": 0.95, "neutral_flagged_crisis": 0.05},
    "en": {"crisis_recall": 0.95, "neutral_flagged_crisis": 0.05},
}


@pytest.fixture(scope="module")
def assessor():
    a = build(None, None)
    yield a
    a.close()


def test_heldout_v2_set_is_intact():
    """The bars only mean something on the set they were measured on."""
    rows = read_jsonl(HELDOUT_V2)
    counts = Counter((e.lang, e.label) for e in rows)
    for lang in ("ko", "en"):
        assert counts[(lang, "crisis")] == 60, counts
        assert counts[(lang, "distress")] == 50, counts
        assert counts[(lang, "none")] == 50, counts


def test_heldout_v2_quality_does_not_regress(assessor):
    report = evaluate_files(assessor, [HELDOUT_V2])["by_lang"]
    for lang, bars in HELDOUT_V2_BARS.items():
        m = report[lang]
        assert m["crisis_recall"] >= bars["crisis_recall"], (lang, m)
        assert m["neutral_flagged_crisis"] <= bars["neutral_flagged_crisis"], (lang, m)
