"""Slash commands. Each one is a small function over a Turn; unknown ones get the list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from dialogues import checkin, onboarding
from dialogues.messages import EscalationKind, EscalationRequest
from dialogues.state import State
from dialogues.turn import Turn

DELETE = "delete"
COMMANDS = ("start", "checkin", "talk", "settings", "pause", "resume", "help", "privacy", "delete", "lang")


async def run(t: Turn, name: str, args: str = "") -> None:
    handler = _HANDLERS.get(name.lower().split("@")[0])
    if handler is None:
        # /activities is answered by the activities router before a message reaches the core
        listing = " ".join(f"/{c}" for c in (*COMMANDS, "activities"))
        t.say(t.cat.commands["unknown"], values={"commands": listing})
        return
    await handler(t, args)


async def _start(t: Turn, args: str) -> None:
    """`/start CODE` (a Telegram deep link from the Center) fills in the enrolment code."""
    code = onboarding.clean_input("enrolment_code", args) if args.strip() else None
    if code is not None:
        await t.update_profile(enrolment_code=code)
    await onboarding.start(t)


async def _checkin(t: Turn, args: str) -> None:
    await checkin.start(t)


async def _talk(t: Turn, args: str) -> None:
    """A person asked for a human: always recorded, whatever the assessment said."""
    t.escalation = EscalationRequest(EscalationKind.TALK_REQUEST, ("user_request",), 0.0)
    t.say(t.cat.commands["talk"])


async def _help(t: Turn, args: str) -> None:
    t.say(t.cat.commands["help"])


async def _privacy(t: Turn, args: str) -> None:
    t.say(t.cat.commands["privacy"])


async def _pause(t: Turn, args: str) -> None:
    await t.update_profile(paused=True)
    t.say(t.cat.commands["pause"])


async def _resume(t: Turn, args: str) -> None:
    await t.update_profile(paused=False)
    if not t.profile.checkin_consent:
        t.say(t.cat.commands["resume_no_consent"])
        return
    t.say(t.cat.commands["resume"])


async def _lang(t: Turn, args: str) -> None:
    wanted = args.strip().lower()
    if wanted in ("ko", "kr", "korean", "한국어", "한글"):
        await t.update_profile(lang="ko")
    elif wanted in ("en", "english", "영어"):
        await t.update_profile(lang="en")
    else:
        await onboarding.open_setting(t, "lang")
        return
    t.say(t.cat.commands["saved"])


async def _delete(t: Turn, args: str) -> None:
    c = t.cat.commands
    t.state = State(DELETE, "confirm")
    t.say(
        c["delete_confirm"],
        [t.button(c["delete_yes_label"], "del", "yes"), t.button(c["delete_no_label"], "del", "no")],
    )


async def confirm_delete(t: Turn, answer: str) -> None:
    """Erase only on a 'yes' pressed while the question is open; a stale 'yes' asks again."""
    c = t.cat.commands
    if answer == "yes" and t.state.flow == DELETE:
        t.state = State()
        t.erase = True
        t.say(c["delete_done"])
        return
    if answer == "yes":
        await _delete(t, "")
        return
    if t.state.flow == DELETE:
        t.state = State()
    t.say(c["delete_cancelled"])


async def _settings(t: Turn, args: str) -> None:
    c = t.cat.commands
    p = t.profile
    steps = t.cat.onboarding.steps

    def label_for(step_id: str, field: str) -> str:
        step = t.cat.onboarding.step(step_id)
        for option in step.options if step else ():
            if option.sets.get(field) == getattr(p, field):
                return option.label.render(t.lang)
        return str(getattr(p, field))

    def on_off(flag: bool) -> str:
        return c["on" if flag else "off"].render(t.lang)

    values = {
        "lang": label_for("lang", "lang"),
        "checkin": on_off(p.checkin_consent and not p.paused),
        "share": on_off(p.share_consent),
        "rhythm": label_for("rhythm", "rhythm"),
        "window": f"{p.window_start}–{p.window_end}",
        "quiet": f"{p.quiet_start}–{p.quiet_end}",
        "nickname": p.nickname or c["none"].render(t.lang),
        "code": p.enrolment_code or c["none"].render(t.lang),
        "paused": c["paused_note"].render(t.lang) if p.paused else "",
    }
    quick = [t.button(s.settings_label, "set", s.id) for s in steps if s.settings_label is not None]
    t.say(c["settings"], quick, values)


_HANDLERS: dict[str, Callable[[Turn, str], Awaitable[None]]] = {
    "start": _start,
    "checkin": _checkin,
    "talk": _talk,
    "settings": _settings,
    "pause": _pause,
    "resume": _resume,
    "help": _help,
    "privacy": _privacy,
    "delete": _delete,
    "lang": _lang,
}
