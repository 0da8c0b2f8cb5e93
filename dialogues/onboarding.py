"""Onboarding (/start) and single settings, both driven by the steps in onboarding.yaml.

Every step can be skipped (its `skip:` defaults apply); nothing is demanded. A step's buttons
carry the step and option ids, so an answer to an older step is applied and the current one is
shown again, and the same step doubles as a /settings entry.
"""

from __future__ import annotations

import re

from dialogues import free_talk
from dialogues.flowtypes import Step, Theme
from dialogues.state import State
from dialogues.turn import Turn
from models.assessment import RiskLevel

ONBOARDING = "onboarding"
SETTINGS = "settings"
SKIP = "skip"
_CODE = re.compile(r"^[A-Za-z0-9-]{3,20}$")


def _applies(step: Step, t: Turn) -> bool:
    if step.input_field == "enrolment_code" and t.profile.enrolment_code:
        return False  # already given (a /start deep link); /settings can still change it
    if not step.when:
        return True
    return all(getattr(t.profile, name) in values for name, values in step.when.items())


def _next(t: Turn, after: str | None) -> Step | None:
    steps = t.cat.onboarding.steps
    start = 0
    if after is not None:
        index = next((i for i, s in enumerate(steps) if s.id == after), len(steps) - 1)
        start = index + 1
    return next((s for s in steps[start:] if _applies(s, t)), None)


def prompt(t: Turn, step: Step) -> None:
    ob = t.cat.onboarding
    quick = [t.button(o.label, "st", step.id, o.id) for o in step.options]
    quick.append(t.button(ob.skip_label, "st", step.id, SKIP))
    settings = t.state.flow == SETTINGS and t.state.step == step.id
    t.say(step.settings_text if settings and step.settings_text else step.text, quick)


async def start(t: Turn) -> None:
    first = _next(t, None)
    if first is None:
        await _finish(t)
        return
    t.state = State(ONBOARDING, first.id)
    prompt(t, first)


async def open_setting(t: Turn, step_id: str) -> None:
    step = t.cat.onboarding.step(step_id)
    if step is None or step.settings_label is None:
        t.say(t.cat.commands["stale_button"])
        return
    t.state = State(SETTINGS, step.id)
    prompt(t, step)


async def resume(t: Turn) -> None:
    """Continue onboarding where it was (after an interruption such as a crisis turn)."""
    step = t.cat.onboarding.step(t.state.step) if t.state.flow in (ONBOARDING, SETTINGS) else None
    if step is None:
        t.state = State()
        t.say(t.cat.commands["stale_button"])
        return
    t.state = State(t.state.flow, step.id)
    prompt(t, step)


async def answer(t: Turn, step_id: str, option_id: str) -> None:
    """A step's button was pressed, in whatever state the conversation is now."""
    step = t.cat.onboarding.step(step_id)
    option = step.option(option_id) if step else None
    if step is None or (option is None and option_id != SKIP):
        t.say(t.cat.commands["stale_button"])
        return
    current = t.state.flow in (ONBOARDING, SETTINGS) and t.state.step == step_id
    if option_id == SKIP:
        if t.state.flow != ONBOARDING:
            t.state = State() if current else t.state
            t.say(t.cat.commands["unchanged"])
            return
        if current:
            await t.update_profile(**step.skip)
    else:
        assert option is not None
        await t.update_profile(**option.sets)
        if option.reply is not None:
            t.say(option.reply)
    await _after_answer(t, step, current)


async def _after_answer(t: Turn, step: Step, current: bool) -> None:
    if t.state.flow == ONBOARDING:
        if current:
            following = _next(t, step.id)
            if following is None:
                await _finish(t)
            else:
                t.state = State(ONBOARDING, following.id)
                prompt(t, following)
            return
        # an older step's button: applied; show where we are again
        here = t.cat.onboarding.step(t.state.step)
        t.state = State(ONBOARDING, t.state.step)
        if here is not None:
            prompt(t, here)
        return
    if current:
        t.state = State()
    t.say(t.cat.commands["saved"])


async def text_answer(t: Turn, text: str) -> None:
    """Typed text while a step waits: an input step takes it; a choice step matches words."""
    step = t.cat.onboarding.step(t.state.step)
    if step is None:  # the step was removed from the flow file since: just talk
        t.state = State()
        await free_talk.reply(t, text)
        return
    distressed = t.assessment is not None and t.assessment.level is RiskLevel.DISTRESS
    if step.input_field and not distressed:
        value = clean_input(step.input_field, text)
        if value is None:
            assert step.invalid is not None
            t.say(step.invalid)
            prompt(t, step)
            return
        await t.update_profile(**{step.input_field: value})
        await _after_answer(t, step, True)
        return
    wanted = text.strip().lower()
    for option in step.options:
        if wanted in option.aliases or wanted in (option.label.ko.lower(), option.label.en.lower()):
            await answer(t, step.id, option.id)
            return
    if distressed:
        await t.say_one_of("distress", t.cat.crisis.distress)
    elif _sharing(await t.deps.themes.match(text)):
        # They are talking, not answering: reply, and leave the way back to the setup open.
        await free_talk.reply(t, text)
        t.add_buttons([t.button(t.cat.onboarding.resume_label, "ob", "resume")])
        return
    t.say(t.cat.onboarding.again)
    prompt(t, step)


def _sharing(match: tuple[Theme | None, float]) -> bool:
    """Is this someone telling us something that matters (not a stray word)? Then we listen first."""
    theme, _score = match
    return theme is not None and theme.supportive


def clean_input(field: str, text: str) -> str | None:
    value = " ".join(text.split())
    if field == "enrolment_code":
        return value.upper() if _CODE.match(value) else None
    return value if 1 <= len(value) <= 20 and not value.startswith("/") else None


async def _finish(t: Turn) -> None:
    t.state = State()
    await t.update_profile(onboarded=True)
    t.say(t.cat.onboarding.done)
