"""Free talk: a supportive reply chosen by theme; distress gets support and a way to a person."""

from __future__ import annotations

from dialogues.messages import EscalationKind, EscalationRequest
from dialogues.turn import Turn
from models.assessment import RiskLevel


def persisting(reasons: tuple[str, ...]) -> bool:
    """Distress becomes a (low-priority) case only when the assessor says it persists.

    A single low moment is met with support, not a counsellor's alert; the escalation service
    decides the priority of what we do send.
    """
    return any("persist" in r for r in reasons)


async def reply(t: Turn, text: str) -> None:
    ft = t.cat.free_talk
    theme, _score = await t.deps.themes.match(text)
    distressed = t.assessment is not None and t.assessment.level is RiskLevel.DISTRESS
    if distressed:
        assert t.assessment is not None
        talk = [t.button(t.cat.crisis.distress_talk_label, "cmd", "talk")]
        if theme is not None and theme.supportive:
            await t.say_one_of(f"ft_{theme.id}", theme.replies, talk)
        else:
            await t.say_one_of("distress", t.cat.crisis.distress, talk)
        if persisting(t.assessment.reasons):
            t.escalation = EscalationRequest(
                EscalationKind.DISTRESS, t.assessment.reasons, t.assessment.score
            )
        return
    if theme is not None:
        await t.say_one_of(f"ft_{theme.id}", theme.replies)
    else:
        await t.say_one_of("ft_default", ft.default)
    if not t.profile.onboarded and t.state.idle:
        t.add_buttons([t.button(t.cat.commands["start_label"], "cmd", "start")])
