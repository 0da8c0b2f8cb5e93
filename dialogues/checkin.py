"""The check-in: a greeting with mood buttons, a gentle follow-up, a tiny idea, an easy way out.

Mood buttons carry the mood (``v1:ci:<id>``) so they work whenever they are pressed, including
on a check-in the scheduler sent days ago. Each answer is stored with its time.
"""

from __future__ import annotations

import logging

from dialogues.flowtypes import MoodOption
from dialogues.state import State
from dialogues.turn import Turn
from models.assessment import PastSignal, RiskLevel
from storage.profiles import Mood
from storage.risk_window import RiskWindow
from telemetry import event, hash_id

log = logging.getLogger(__name__)

CHECKIN = "checkin"
MOOD_STEP = "mood"


async def start(t: Turn) -> None:
    ci = t.cat.checkin
    quick = [t.button(m.label, "ci", m.id) for m in ci.moods]
    t.state = State(CHECKIN, MOOD_STEP)
    await t.say_one_of("ci_greeting", ci.greeting, quick)


async def answer(t: Turn, option_id: str) -> None:
    ci = t.cat.checkin
    option = ci.mood(option_id)
    if option is None:
        t.say(t.cat.commands["stale_button"])
        return
    now = t.deps.clock.now()
    await t.deps.profiles.add_mood(t.user_key, option.mood, now)
    await _signal(t, option)
    event(log, "mood_recorded", user=hash_id(t.user_key), mood=option.mood.value)
    if t.state.flow == CHECKIN:
        t.state = State()
    quick = []
    if option.offer_idea:
        quick.append(t.button(ci.idea_label, "cx", "idea"))
    if option.offer_talk:
        quick.append(t.button(ci.talk_label, "cmd", "talk"))
    if quick:
        quick.append(t.button(ci.bye_label, "cx", "bye"))
    await t.say_one_of(f"ci_{option.id}", option.replies, quick)


async def _signal(t: Turn, option: MoodOption) -> None:
    """A 'not great' answer is a (weak) distress signal the risk assessor may see in context."""
    if option.mood is not Mood.NOT_GREAT:
        return
    try:
        signal = PastSignal(t.deps.clock.now(), RiskLevel.DISTRESS, 0.3, source="mood")
        await RiskWindow(t.deps.profiles.redis).push(t.user_key, signal)
    except Exception:
        event(log, "mood_signal_failed", logging.WARNING, user=hash_id(t.user_key))


async def extra(t: Turn, what: str) -> None:
    ci = t.cat.checkin
    if what == "idea":
        quick = [t.button(ci.idea_label, "cx", "idea"), t.button(ci.bye_label, "cx", "bye")]
        await t.say_one_of("ci_idea", ci.ideas, quick)
    elif what == "bye":
        await t.say_one_of("ci_bye", ci.bye)
    else:
        t.say(t.cat.commands["stale_button"])


def match_typed(t: Turn, text: str) -> MoodOption | None:
    wanted = text.strip().lower()
    for option in t.cat.checkin.moods:
        if wanted in option.aliases or wanted in (option.label.ko.lower(), option.label.en.lower()):
            return option
    return None
