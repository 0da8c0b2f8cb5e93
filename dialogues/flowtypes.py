"""The flows as typed, immutable data: what `dialogues.catalogue` reads from the YAML files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dialogues.texts import Text
from storage.profiles import Mood


@dataclass(frozen=True)
class Option:
    id: str
    label: Text
    sets: Mapping[str, object]
    reply: Text | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    id: str
    text: Text
    options: tuple[Option, ...]
    skip: Mapping[str, object]
    input_field: str | None = None
    invalid: Text | None = None
    when: Mapping[str, tuple[object, ...]] | None = None
    settings_label: Text | None = None
    settings_text: Text | None = None  # the question when changed from /settings (else `text`)

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)


@dataclass(frozen=True)
class Onboarding:
    steps: tuple[Step, ...]
    skip_label: Text
    again: Text
    resume_label: Text
    done: Text

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)


@dataclass(frozen=True)
class MoodOption:
    id: str
    mood: Mood
    label: Text
    replies: tuple[Text, ...]
    aliases: tuple[str, ...] = ()
    offer_idea: bool = False
    offer_talk: bool = False


@dataclass(frozen=True)
class Checkin:
    greeting: tuple[Text, ...]
    moods: tuple[MoodOption, ...]
    idea_label: Text
    talk_label: Text
    bye_label: Text
    ideas: tuple[Text, ...]
    bye: tuple[Text, ...]

    def mood(self, option_id: str) -> MoodOption | None:
        return next((m for m in self.moods if m.id == option_id), None)


@dataclass(frozen=True)
class Theme:
    id: str
    examples: tuple[str, ...]
    replies: tuple[Text, ...]
    supportive: bool = False  # may answer a distressed message


@dataclass(frozen=True)
class FreeTalk:
    threshold: float
    default: tuple[Text, ...]
    themes: tuple[Theme, ...]


@dataclass(frozen=True)
class Crisis:
    crisis: tuple[Text, ...]
    distress: tuple[Text, ...]
    distress_talk_label: Text


@dataclass(frozen=True)
class Catalogue:
    onboarding: Onboarding
    checkin: Checkin
    free_talk: FreeTalk
    commands: Mapping[str, Text]
    crisis: Crisis
    other: Mapping[str, tuple[Text, ...]]
