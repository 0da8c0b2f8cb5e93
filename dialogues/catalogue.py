"""The flows, read from `dialogues/flows/*.yaml` and checked once at start-up.

A malformed file stops start-up with a `FlowError` naming the file and line: a companion that
silently lost its crisis text or a button would be worse than one that refuses to start.
"""

from __future__ import annotations

import re
from pathlib import Path

from dialogues.flowtypes import (
    Catalogue,
    Checkin,
    Crisis,
    FreeTalk,
    MoodOption,
    Onboarding,
    Option,
    Step,
    Theme,
)
from dialogues.texts import Reader, Text
from dialogues.yamlfile import FlowError, load_yaml
from storage.profiles import Mood, Rhythm

FLOWS_DIR = Path(__file__).parent / "flows"
FLOW_FILES = ("onboarding", "checkin", "free_talk", "commands", "crisis", "other_input")

_ID = re.compile(r"^[a-z0-9_]{1,12}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_BOOL_FIELDS = ("checkin_consent", "share_consent", "activity_news")
_TIME_FIELDS = ("window_start", "window_end", "quiet_start", "quiet_end")
INPUT_FIELDS = ("nickname", "enrolment_code")
CRISIS_LINES = ("109", "1388", "119", "112")
SETTINGS_PLACEHOLDERS = {
    "lang",
    "checkin",
    "share",
    "rhythm",
    "window",
    "quiet",
    "nickname",
    "code",
    "paused",
}
COMMAND_TEXTS: dict[str, set[str]] = {
    "help": set(),
    "unknown": {"commands"},
    "privacy": set(),
    "talk": set(),
    "pause": set(),
    "resume": set(),
    "resume_no_consent": set(),
    "settings": SETTINGS_PLACEHOLDERS,
    "saved": set(),
    "unchanged": set(),
    "on": set(),
    "off": set(),
    "paused_note": set(),
    "none": set(),
    "delete_confirm": set(),
    "delete_yes_label": set(),
    "delete_no_label": set(),
    "delete_done": set(),
    "delete_cancelled": set(),
    "stale_button": set(),
    "fallback": set(),
    "start_label": set(),
    "talk_label": set(),
}
OTHER_KINDS = (
    "sticker",
    "photo",
    "voice",
    "video",
    "location",
    "document",
    "edited",
    "empty",
    "too_long",
    "other",
)


def load_catalogue(directory: Path = FLOWS_DIR) -> Catalogue:
    """Read and check every flow file; raises FlowError naming the file and line of a mistake."""
    readers = {}
    for name in FLOW_FILES:
        path = directory / f"{name}.yaml"
        if not path.exists():
            raise FlowError(path, 1, "this flow file is missing")
        readers[name] = Reader(path, load_yaml(path))
    return Catalogue(
        onboarding=_onboarding(readers["onboarding"]),
        checkin=_checkin(readers["checkin"]),
        free_talk=_free_talk(readers["free_talk"]),
        commands=_commands(readers["commands"]),
        crisis=_crisis(readers["crisis"]),
        other=_other(readers["other_input"]),
    )


# --- one reader per file --------------------------------------------------------------------
def _id(r: Reader, seen: set[str]) -> str:
    value = r.raw("id")
    if not isinstance(value, str) or not _ID.match(value):
        raise r.fail(r.line("id"), f"id {value!r} must be 1-12 lowercase letters, digits or _")
    if value in seen:
        raise r.fail(r.line("id"), f"id '{value}' is used twice")
    seen.add(value)
    return value


def _aliases(r: Reader) -> tuple[str, ...]:
    items = r.seq("aliases", optional=True)
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, str | int) or isinstance(item, bool) or not str(item).strip():
            raise r.fail(items.line_at(i), "each alias must be a word or phrase")
        out.append(str(item).strip().lower())
    return tuple(out)


def _value(r: Reader, name: str, value: object, line: int) -> object:
    """Check one profile setting's value; returns it in its stored type."""
    if name == "lang":
        ok = value in ("ko", "en")
    elif name == "rhythm":
        ok = isinstance(value, str) and value in {x.value for x in Rhythm}
        value = Rhythm(str(value)) if ok else value
    elif name in _BOOL_FIELDS:
        ok = isinstance(value, bool)
    elif name in _TIME_FIELDS:
        ok = isinstance(value, str) and bool(_HHMM.match(value))
    else:
        allowed = ", ".join(("lang", "rhythm", *_BOOL_FIELDS, *_TIME_FIELDS))
        raise r.fail(line, f"'{name}' cannot be used here (settings: {allowed})")
    if not ok:
        raise r.fail(line, f"{value!r} is not a valid value for '{name}'")
    return value


def _settings(r: Reader, key: str) -> dict[str, object]:
    """A `set:`/`skip:` mapping of profile fields, each value checked against what it may hold."""
    if not r.has(key):
        return {}
    block = r.child(key)
    return {name: _value(r, name, value, block.line(name)) for name, value in block.data.items()}


def _step(r: Reader, seen: set[str]) -> Step:
    r.check_keys(
        {"id", "text", "options", "skip", "input", "invalid", "when", "settings_label", "settings_text"}
    )
    step_id = _id(r, seen)
    input_field = r.string("input", optional=True)
    if input_field is not None and input_field not in INPUT_FIELDS:
        raise r.fail(r.line("input"), f"input must be one of: {', '.join(INPUT_FIELDS)}")
    option_ids: set[str] = set()
    options = []
    for o in r.children("options", optional=input_field is not None):
        o.check_keys({"id", "label", "set", "reply", "aliases"})
        options.append(
            Option(
                id=_id(o, option_ids),
                label=o.text("label"),
                sets=_settings(o, "set"),
                reply=o.text("reply") if o.has("reply") else None,
                aliases=_aliases(o),
            )
        )
    when: dict[str, tuple[object, ...]] | None = None
    if r.has("when"):
        block = r.child("when")
        when = {
            name: tuple(
                _value(r, name, v, block.line(name)) for v in (value if isinstance(value, list) else [value])
            )
            for name, value in block.data.items()
        }
    return Step(
        id=step_id,
        text=r.text("text"),
        options=tuple(options),
        skip=_settings(r, "skip"),
        input_field=input_field,
        invalid=r.text("invalid") if input_field else None,
        when=when,
        settings_label=r.text("settings_label") if r.has("settings_label") else None,
        settings_text=r.text("settings_text") if r.has("settings_text") else None,
    )


def _onboarding(r: Reader) -> Onboarding:
    r.check_keys({"steps", "skip_label", "again", "resume_label", "done"})
    seen: set[str] = set()
    return Onboarding(
        steps=tuple(_step(s, seen) for s in r.children("steps")),
        skip_label=r.text("skip_label"),
        again=r.text("again"),
        resume_label=r.text("resume_label"),
        done=r.text("done"),
    )


def _checkin(r: Reader) -> Checkin:
    r.check_keys({"greeting", "moods", "idea_label", "talk_label", "bye_label", "ideas", "bye"})
    seen: set[str] = set()
    moods = []
    for m in r.children("moods"):
        m.check_keys({"id", "mood", "label", "aliases", "replies", "offer_idea", "offer_talk"})
        option_id = _id(m, seen)
        mood = m.raw("mood")
        if mood not in {x.value for x in Mood}:
            raise m.fail(m.line("mood"), f"mood must be one of: {', '.join(x.value for x in Mood)}")
        moods.append(
            MoodOption(
                id=option_id,
                mood=Mood(mood),
                label=m.text("label"),
                replies=m.texts("replies"),
                aliases=_aliases(m),
                offer_idea=m.flag("offer_idea"),
                offer_talk=m.flag("offer_talk"),
            )
        )
    return Checkin(
        greeting=r.texts("greeting"),
        moods=tuple(moods),
        idea_label=r.text("idea_label"),
        talk_label=r.text("talk_label"),
        bye_label=r.text("bye_label"),
        ideas=r.texts("ideas"),
        bye=r.texts("bye"),
    )


def _free_talk(r: Reader) -> FreeTalk:
    r.check_keys({"threshold", "default", "themes"})
    threshold = r.number("threshold", 0.42)
    if not 0.0 < threshold < 1.0:
        raise r.fail(r.line("threshold"), "threshold must be between 0 and 1")
    seen: set[str] = set()
    themes = []
    for t in r.children("themes"):
        t.check_keys({"id", "examples", "replies", "supportive"})
        theme_id = _id(t, seen)
        examples = t.seq("examples")
        for i, ex in enumerate(examples):
            if not isinstance(ex, str) or not ex.strip():
                raise t.fail(examples.line_at(i), "each example must be a sentence")
        themes.append(
            Theme(theme_id, tuple(e.strip() for e in examples), t.texts("replies"), t.flag("supportive"))
        )
    return FreeTalk(threshold=threshold, default=r.texts("default"), themes=tuple(themes))


def _commands(r: Reader) -> dict[str, Text]:
    r.check_keys(set(COMMAND_TEXTS))
    return {name: r.text(name, allowed=allowed) for name, allowed in COMMAND_TEXTS.items()}


def _crisis(r: Reader) -> Crisis:
    """Refuse a crisis text that lost a helpline: these numbers are the point of the reply."""
    r.check_keys({"crisis", "distress", "distress_talk_label"})
    crisis = r.texts("crisis")
    for lang in ("ko", "en"):
        joined = "\n".join(t.get(lang) for t in crisis)
        for number in CRISIS_LINES:
            if number not in joined:
                raise r.fail(r.line("crisis"), f"the crisis text ({lang}) must include the line {number}")
    return Crisis(
        crisis=crisis, distress=r.texts("distress"), distress_talk_label=r.text("distress_talk_label")
    )


def _other(r: Reader) -> dict[str, tuple[Text, ...]]:
    r.check_keys(set(OTHER_KINDS))
    return {kind: r.texts(kind) for kind in OTHER_KINDS}


def main(argv: list[str] | None = None) -> int:
    """`python -m dialogues.catalogue [DIR]`: check the flow files, as start-up does."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0]) if args else FLOWS_DIR
    try:
        catalogue = load_catalogue(directory)
    except FlowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    steps = len(catalogue.onboarding.steps)
    themes = len(catalogue.free_talk.themes)
    print(f"ok: {directory} ({steps} onboarding steps, {themes} free-talk themes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
