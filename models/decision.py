"""From what the detector read (`Raw`) and the conversation so far to an `Assessment`.

Order of precedence, each a safety decision:
1. An explicit statement (lexicon rule about the writer) is crisis, whatever the classifier says:
   recall on explicit statements must be total.
2. The classifier's crisis probability at or above the language's crisis threshold is crisis. The
   thresholds were chosen on the dev split for crisis recall first, false alarms second.
3. Conversation context: an ambiguous message (flagged distress, or a crisis probability above a
   lower bar) right after crisis talk is read in that light and raised to crisis; distress that
   repeats over several days is raised in score and named, so a case opens at distress priority.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from models.assessment import Assessment, RiskContext, RiskLevel
from models.detector import Raw

RULE_CONFIDENCE = 0.99
AFTER_CRISIS_WINDOW = timedelta(hours=2)
AFTER_CRISIS_BAR = 0.5  # share of the crisis threshold an ambiguous message must reach
PERSISTENT_WINDOW = timedelta(days=14)
PERSISTENT_SIGNALS = 3  # distress-or-worse signals (messages or low moods)
PERSISTENT_DAYS = 2  # spread over at least this many distinct days


def decide(raw: Raw, thresholds: dict[str, float], context: RiskContext | None = None) -> Assessment:
    t_crisis, t_distress = thresholds["crisis"], thresholds["distress"]
    guards = tuple(f"lexicon:{g}" for g in raw.guards)
    hyper = ("lexicon:hyperbole",) if raw.hyperbole else ()
    if raw.explicit:
        reasons = tuple(f"lexicon:{r}" for r in raw.explicit)
        if raw.crisis_category:
            reasons += (f"exemplar:{raw.crisis_category}",)
        return Assessment(RiskLevel.CRISIS, max(RULE_CONFIDENCE, raw.p_crisis), reasons, raw.lang)
    if raw.p_crisis >= t_crisis:
        reasons = ("classifier:crisis", f"exemplar:{raw.crisis_category}", *guards)
        return Assessment(RiskLevel.CRISIS, raw.p_crisis, reasons, raw.lang)
    if raw.p_flag >= t_distress:
        base = Assessment(
            RiskLevel.DISTRESS,
            raw.p_crisis,
            ("classifier:distress", f"exemplar:{raw.distress_category}", *hyper, *guards),
            raw.lang,
        )
    else:
        everyday = (f"exemplar:{raw.none_category}",) if raw.none_category else ()
        base = Assessment(
            RiskLevel.NONE, raw.p_crisis, ("classifier:none", *everyday, *hyper, *guards), raw.lang
        )
    return _with_context(base, raw, t_crisis, t_distress, context)


def _with_context(
    base: Assessment, raw: Raw, t_crisis: float, t_distress: float, context: RiskContext | None
) -> Assessment:
    if context is None or not context.recent:
        return base
    now = context.now or context.recent[-1].ts
    # An ambiguous message right after crisis talk ("응 그냥 그렇게 할래", "ok. bye") is crisis.
    recent_crisis = any(
        s.level is RiskLevel.CRISIS and s.source == "message" and now - s.ts <= AFTER_CRISIS_WINDOW
        for s in context.recent
    )
    ambiguous = (base.level is RiskLevel.DISTRESS or raw.p_crisis >= AFTER_CRISIS_BAR * t_crisis) and not (
        raw.hyperbole or raw.guards
    )
    if recent_crisis and ambiguous:
        return Assessment(
            RiskLevel.CRISIS,
            max(base.score, t_crisis),
            (*_kept(base.reasons), "context:after_crisis_talk"),
            base.lang,
        )
    # Distress that keeps coming back over days: raise the score and say so.
    window = [
        s
        for s in context.recent
        if now - s.ts <= PERSISTENT_WINDOW and s.level in (RiskLevel.DISTRESS, RiskLevel.CRISIS)
    ]
    days = {_day(s.ts) for s in window}
    persistent = len(window) >= PERSISTENT_SIGNALS and len(days) >= PERSISTENT_DAYS
    if persistent and (base.level is RiskLevel.DISTRESS or raw.p_flag >= 0.75 * t_distress):
        return Assessment(
            RiskLevel.DISTRESS,
            min(1.0, max(base.score, raw.p_flag)),
            (*_kept(base.reasons), "context:persistent_distress"),
            base.lang,
        )
    return base


def _kept(reasons: tuple[str, ...]) -> tuple[str, ...]:
    """Reasons that still hold once context raises the level (the "none" readings do not)."""
    return tuple(r for r in reasons if r not in ("classifier:none", "lexicon:hyperbole"))


def _day(ts: datetime) -> str:
    return ts.date().isoformat()
