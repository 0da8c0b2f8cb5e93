"""Quality regression on the held-out v3 set (models/data/test_v3.jsonl), never used for any choice.

The 320 rows (per language 60 crisis over eight categories, 50 distress over nine, 50 neutral of which
32 are hard negatives) were written blind to the exemplar banks, the lexicon, the dev set and the
earlier hand tests, and committed before the model was run on them. The bars guard against
regression, not aspirations: each is at least 0.05 looser than the figure measured on 2026-11-28 with
artifact risk.npz sha256 7e9fcb53... (risk.json sha256 260c2e36...). Distress recall (ko 0.76, en 0.88)
is not guarded here; Korean falls short of the issue's 0.85 target on this set.
"""

from collections import Counter
from pathlib import Path

import pytest

from bot.commands.assess import build
from bot.commands.evaluate import evaluate_files
from models.banks import read_jsonl

HELDOUT_V3 = Path(__file__).resolve().parents[1] / "models" / "data" / "test_v3.jsonl"

HELDOUT_V3_BARS = {
    # measured: crisis recall ko 0.983 (59/60), en 0.967 (58/60); neutral flagged crisis ko 0.06
    # (3/50), en 0.02 (1/50)
    "ko": {"crisis_recall": 0.93, "neutral_flagged_crisis": 0.11},
    "en": {"crisis_recall": 0.91, "neutral_flagged_crisis": 0.07},
}


@pytest.fixture(scope="module")
def assessor():
    a = build(None, None)
    yield a
    a.close()


def test_heldout_v3_set_is_intact():
    """The bars only mean something on the set they were measured on."""
    rows = list(read_jsonl(HELDOUT_V3))
    counts = Counter((e.lang, e.label) for e in rows)
    for lang in ("ko", "en"):
        assert counts[(lang, "crisis")] == 60, counts
        assert counts[(lang, "distress")] == 50, counts
        assert counts[(lang, "none")] == 50, counts


def test_heldout_v3_quality_does_not_regress(assessor):
    report = evaluate_files(assessor, [HELDOUT_V3])["by_lang"]
    for lang, bars in HELDOUT_V3_BARS.items():
        m = report[lang]
        assert m["crisis_recall"] >= bars["crisis_recall"], (lang, m)
        assert m["neutral_flagged_crisis"] <= bars["neutral_flagged_crisis"], (lang, m)
