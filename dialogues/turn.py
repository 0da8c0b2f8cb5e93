"""One turn of conversation: what came in, what we say, and what changed. Handlers fill it in."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from clock import Clock
from dialogues import payloads
from dialogues.flowtypes import Catalogue
from dialogues.messages import EscalationRequest, IncomingMessage, Outcome, QuickReply, Reply
from dialogues.state import RECENT_KEEP, State, StateStore
from dialogues.texts import Text
from dialogues.themes import ThemeMatcher
from models.assessment import Assessment
from storage.profiles import Profile, ProfileRepository

# Fields whose change means the person's check-in schedule must be rebuilt.
SCHEDULE_FIELDS = frozenset(
    {
        "rhythm",
        "window_start",
        "window_end",
        "quiet_start",
        "quiet_end",
        "paused",
        "checkin_consent",
        "tz",
        "onboarded",
    }
)


@dataclass
class Deps:
    """What every handler may use; built once by `build_conversation`."""

    catalogue: Catalogue
    profiles: ProfileRepository
    states: StateStore
    themes: ThemeMatcher
    clock: Clock
    rng: random.Random


@dataclass
class Turn:
    deps: Deps
    msg: IncomingMessage | None
    profile: Profile
    assessment: Assessment | None
    state: State
    replies: list[Reply] = field(default_factory=list)
    escalation: EscalationRequest | None = None
    erase: bool = False
    changed: set[str] = field(default_factory=set)
    # reply ids said lately (newest first), when read with the state; None: read on first use
    recent: list[str] | None = None
    # varied replies said in this turn (oldest first), saved with the state when the turn ends
    said: list[str] = field(default_factory=list)

    @property
    def lang(self) -> str:
        return self.profile.lang

    @property
    def user_key(self) -> str:
        return self.profile.user_key

    @property
    def cat(self) -> Catalogue:
        return self.deps.catalogue

    # --- saying things ----------------------------------------------------------------------
    def button(self, label: Text, ns: str, *args: str) -> QuickReply:
        return QuickReply(label.render(self.lang), payloads.make(ns, *args))

    def say(
        self, text: Text, quick: Sequence[QuickReply] = (), values: Mapping[str, str] | None = None
    ) -> None:
        self.replies.append(Reply(text.render(self.lang, values), tuple(quick)))

    def add_buttons(self, quick: Sequence[QuickReply]) -> None:
        """Attach quick replies to the last reply said in this turn."""
        if not self.replies:
            return
        last = self.replies[-1]
        self.replies[-1] = Reply(last.text, last.quick_replies + tuple(quick))

    async def say_one_of(
        self, group: str, variants: Sequence[Text], quick: Sequence[QuickReply] = ()
    ) -> None:
        """Say one variant, never the one this person got last from the same group."""
        recent = self.recent if self.recent is not None else await self.deps.states.recent(self.user_key)
        ids = [f"{group}:{i}" for i in range(len(variants))]
        fresh = [i for i, rid in enumerate(ids) if rid not in recent]
        if not fresh:  # every variant was used lately: at least avoid the very last one
            last = next((r for r in recent if r.startswith(f"{group}:")), None)
            fresh = [i for i, rid in enumerate(ids) if rid != last] or [0]
        choice = self.deps.rng.choice(fresh)
        self.said.append(ids[choice])
        self.recent = [ids[choice], *recent][:RECENT_KEEP]  # what a second say_one_of would read
        self.say(variants[choice], quick)

    # --- changing things --------------------------------------------------------------------
    async def update_profile(self, **changes: object) -> None:
        diff = {k: v for k, v in changes.items() if getattr(self.profile, k) != v}
        if not diff:
            return
        updated = await self.deps.profiles.update(self.user_key, **diff)
        self.profile = updated if updated is not None else self.profile.replace(**diff)
        if updated is None:
            await self.deps.profiles.save(self.profile)
        self.changed.update(diff)

    def outcome(self) -> Outcome:
        return Outcome(
            replies=tuple(self.replies),
            assessment=self.assessment,
            escalation=self.escalation,
            erase_user=self.erase,
            schedule_changed=bool(self.changed & SCHEDULE_FIELDS),
        )
