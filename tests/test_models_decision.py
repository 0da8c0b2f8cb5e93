"""Thresholds, lexicon precedence and conversation context, on hand-made detector readings."""

from datetime import UTC, datetime, timedelta

from models.assessment import PastSignal, RiskContext, RiskLevel
from models.decision import decide
from models.detector import Raw

T = {"crisis": 0.3, "distress": 0.2}
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def raw(pc=0.0, pf=0.0, **kw):
    return Raw(lang="ko", p_crisis=pc, p_flag=pf, crisis_category="plan", distress_category="low_mood", **kw)


def test_explicit_rule_is_crisis_whatever_the_classifier_says():
    a = decide(raw(0.01, 0.02, explicit=("ko_death_wish",)), T)
    assert a.level is RiskLevel.CRISIS
    assert "lexicon:ko_death_wish" in a.reasons
    assert a.score >= 0.99


def test_thresholds_and_reasons():
    assert decide(raw(0.35, 0.5), T).level is RiskLevel.CRISIS
    assert "exemplar:plan" in decide(raw(0.35, 0.5), T).reasons
    d = decide(raw(0.1, 0.25), T)
    assert d.level is RiskLevel.DISTRESS and "exemplar:low_mood" in d.reasons
    quiet = decide(raw(0.05, 0.1), T)
    assert quiet.level is RiskLevel.NONE and quiet.reasons == ("classifier:none",)


def signal(minutes_ago, level, source="message"):
    return PastSignal(ts=NOW - timedelta(minutes=minutes_ago), level=level, score=0.9, source=source)


def test_ambiguous_message_after_crisis_talk_is_crisis():
    ctx = RiskContext(recent=(signal(10, RiskLevel.CRISIS),), now=NOW)
    a = decide(raw(0.16, 0.21), T, ctx)
    assert a.level is RiskLevel.CRISIS
    assert "context:after_crisis_talk" in a.reasons
    # an everyday message stays what it is
    assert decide(raw(0.01, 0.02), T, ctx).level is RiskLevel.NONE
    # and old crisis talk does not colour today's messages
    old = RiskContext(recent=(signal(60 * 24, RiskLevel.CRISIS),), now=NOW)
    assert decide(raw(0.16, 0.21), T, old).level is RiskLevel.DISTRESS


def test_repeated_distress_over_days_is_raised_and_named():
    days = [signal(60 * 24 * d, RiskLevel.DISTRESS) for d in (3, 2, 1)]
    ctx = RiskContext(recent=(*days, signal(60 * 24 * 2, RiskLevel.DISTRESS, "mood")), now=NOW)
    a = decide(raw(0.1, 0.25), T, ctx)
    assert a.level is RiskLevel.DISTRESS
    assert "context:persistent_distress" in a.reasons
    # a borderline message is read as distress in that light
    b = decide(raw(0.05, 0.16), T, ctx)
    assert b.level is RiskLevel.DISTRESS
    assert "classifier:none" not in b.reasons
    # one bad afternoon is not "over days"
    same_day = RiskContext(recent=tuple(signal(m, RiskLevel.DISTRESS) for m in (30, 20, 10)), now=NOW)
    assert "context:persistent_distress" not in decide(raw(0.1, 0.25), T, same_day).reasons
